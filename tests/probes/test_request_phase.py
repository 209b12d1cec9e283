"""httpd:::request-phase on a real Apache, traced with bpftrace: the exact
phase sequence of each kind of request (internal redirects included), the
uris each phase runs on, with and without DTraceProviderPhases, on every
MPM and over HTTP/2. internal-redirect's own tests are in
test_internal_redirect.py, scripts/bpftrace/phases.bt's in
tests/scripts/test_bpftrace.py; the bpftrace programs and the Trace reading
their output are harness/phase_trace.py."""
import subprocess

import pytest

from harness import MPMS
from harness.phase_trace import EXTRA, FULL, SCRIPT, Trace, curl, shape


def trace_one(bpftrace, h, path, *opts, lines=1):
    t = bpftrace(script=SCRIPT)
    code = curl(h, path, *opts)
    h.wait_access_lines(lines)
    t.stop()
    return code, Trace(t.raw())


@pytest.mark.parametrize("mpm", MPMS)
def test_static_file_every_phase_once(bpftrace, make_httpd, mpm):
    h = make_httpd(mpm, extra=EXTRA)
    code, tr = trace_one(bpftrace, h, "/static.html?x=1")
    assert code == "200"
    ev = tr.only()
    assert shape(ev) == static("/static.html")
    elapsed = [e[3] for e in ev if e[0] == "phase"]
    assert elapsed == sorted(elapsed)


def static(uri):
    return [(p, uri) for p in FULL[:5]] + [("done", 200), ("end", uri)]


# (what, request path, curl options, status, the request's exact events)
SEQUENCES = [
    # ErrorDocument: a new internal request; the access phase is skipped for
    # it since /404.html has the per-directory configuration already checked.
    ("error-document", "/missing.html", [], "404", [
        ("translate", "/missing.html"), ("access", "/missing.html"),
        ("type", "/missing.html"), ("handler", "/missing.html"),
        ("redirect", "/missing.html", "/404.html", 404, 0),
        ("translate", "/404.html"), ("type", "/404.html"), ("handler", "/404.html"),
        ("log", "/missing.html"), ("done", 404), ("end", "/missing.html")]),
    # DirectoryIndex: mod_dir adopts its subrequest in place during fixups;
    # the subrequest itself fires nothing.
    ("directory-index", "/dir/", [], "200", [
        ("translate", "/dir/"), ("access", "/dir/"), ("type", "/dir/"),
        ("redirect", "/dir/", "/dir/index.html", 200, 1),
        ("handler", "/dir/index.html"),
        ("log", "/dir/"), ("done", 200), ("end", "/dir/")]),
    # Refused in the access phase: no type or handler phase.
    ("denied", "/denied", [], "403", [
        ("translate", "/denied"), ("access", "/denied"),
        ("log", "/denied"), ("done", 403), ("end", "/denied")]),
    ("http2", "/static.html", ["--http2-prior-knowledge"], "200", static("/static.html")),
]


@pytest.mark.parametrize("what,path,opts,code,events", SEQUENCES,
                         ids=[s[0] for s in SEQUENCES])
def test_phase_sequence(bpftrace, make_httpd, what, path, opts, code, events):
    h = make_httpd("event", extra=EXTRA)
    got, tr = trace_one(bpftrace, h, path, *opts)
    assert got == code
    assert shape(tr.only()) == events


def test_without_the_directive(bpftrace, make_httpd):
    """As installed, without DTraceProviderPhases On: the access, type and
    handler hooks are not registered, so a request's phases are translate
    (which then lasts through the handler), log and end; ErrorDocument's
    redirect (kind 0, from post_read_request) still fires, DirectoryIndex's
    adoption in place (kind 1, seen between the type and handler hooks)
    does not."""
    h = make_httpd("event", extra=EXTRA, phases=False)
    t = bpftrace(script=SCRIPT)
    assert curl(h, "/static.html") == "200"
    assert curl(h, "/missing.html") == "404"
    assert curl(h, "/dir/") == "200"
    h.wait_access_lines(3)
    t.stop()
    got = sorted(shape(evs) for evs in Trace(t.raw()).by_id.values())
    assert got == sorted([
        [("translate", "/static.html"), ("log", "/static.html"), ("done", 200),
         ("end", "/static.html")],
        [("translate", "/missing.html"), ("redirect", "/missing.html", "/404.html", 404, 0),
         ("translate", "/404.html"), ("log", "/missing.html"), ("done", 404),
         ("end", "/missing.html")],
        [("translate", "/dir/"), ("log", "/dir/"), ("done", 200), ("end", "/dir/")],
    ])


def test_keepalive_requests_have_distinct_ids(bpftrace, make_httpd):
    h = make_httpd("worker", extra=EXTRA)
    t = bpftrace(script=SCRIPT)
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null",
                          h.url("/static.html"), h.url("/dir/"), h.url("/denied")],
                         capture_output=True, text=True)
    assert out.returncode == 0
    h.wait_access_lines(3)
    t.stop()
    tr = Trace(t.raw())
    got = sorted([e[1] for e in evs if e[0] == "phase"] for evs in tr.by_id.values())
    assert got == sorted([FULL, FULL, ["translate", "access", "log", "end"]])


POOLS_SCRIPT = r'''#include "@HEADER@"
usdt:@SO@:httpd:request__start
{
	printf("S\t%llu\t%llu\n", arg0, arg1);
}
usdt:@SO@:httpd:request__phase
{
	$p = (struct httpd_request_pools *)arg5;
	printf("P\t%llu\t%s\t%u\t%u\t%llu\t%llu\t%llu\t%llu\t%llu\n", arg0, str(arg2),
	       $p->version, $p->size, $p->conn_id, $p->request_pool, $p->conn_pool,
	       $p->process_pool, *(uint64 *)$p->request_pool);
}
'''


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_pools_argument(bpftrace, make_httpd, mpm):
    """arg5, struct httpd_request_pools: version 1 of 40 bytes, the same for
    every phase of a request, request-start's connection id, and real pools:
    libapr keeps the parent first in apr_pool_t, and Apache makes r->pool
    under c->pool. Two requests on one connection share its pool and id."""
    h = make_httpd(mpm, extra=EXTRA)
    t = bpftrace(script=POOLS_SCRIPT)
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-o", "/dev/null",
                          h.url("/static.html"), h.url("/dir/")], capture_output=True, text=True)
    assert out.returncode == 0
    h.wait_access_lines(2)
    t.stop()
    starts, phases = {}, {}
    for line in t.raw().splitlines():
        f = line.split("\t")
        if f[0] == "S":
            starts[int(f[1])] = int(f[2])
        elif f[0] == "P":
            phases.setdefault(int(f[1]), []).append((f[2], tuple(map(int, f[3:]))))
    assert len(starts) == 2 and sorted(phases) == sorted(starts)
    conns = set()
    for rid, evs in phases.items():
        assert [name for name, _ in evs] == FULL
        assert len({p for _, p in evs}) == 1, evs
        version, size, conn_id, request, conn, process, parent = evs[0][1]
        assert (version, size, conn_id) == (1, 40, starts[rid])
        assert request and conn and process and len({request, conn, process}) == 3
        assert parent == conn
        conns.add((conn_id, conn))
    assert len(conns) == 1
