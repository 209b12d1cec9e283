"""httpd:::internal-redirect on a real Apache, traced with bpftrace: the
arguments of both kinds of redirect (ErrorDocument's new internal request,
DirectoryIndex's adoption in place), traced alone. Where redirects fall in
a request's phase sequence, and which kind fires without
DTraceProviderPhases, is tested with request-phase
(test_request_phase.py)."""
from harness.phase_trace import EXTRA, REDIRECT_SCRIPT, Trace, curl, shape


def test_redirects_without_phase_tracing(bpftrace, make_httpd):
    """internal-redirect alone still sees both kinds (the state it needs is
    kept whenever it is traced)."""
    h = make_httpd("event", extra=EXTRA)
    t = bpftrace(script=REDIRECT_SCRIPT)
    assert curl(h, "/dir/") == "200"
    assert curl(h, "/missing.html") == "404"
    h.wait_access_lines(2)
    t.stop()
    tr = Trace(t.raw())
    assert sorted(shape(evs)[0] for evs in tr.by_id.values()) == [
        ("redirect", "/dir/", "/dir/index.html", 200, 1),
        ("redirect", "/missing.html", "/404.html", 404, 0)]
