"""httpd:::request-phase and httpd:::internal-redirect on a real Apache,
traced with bpftrace: the exact phase sequence of each kind of request, the
uris each phase runs on, and the arguments of internal redirects (ErrorDocument,
DirectoryIndex), on every MPM and over HTTP/2."""
import os
import re
import subprocess

import pytest

from harness import MPMS, handlers
from harness.httpd import MODULE, REPO

SCRIPTS = os.path.join(REPO, "scripts", "bpftrace")

# Every line is one printf (so lines from different CPUs never mix) with the
# kernel's clock first: lines from different CPUs can come out of order, so
# each request's events are sorted by that clock. N lines give the phase
# name of each number (bpftrace's 512-byte stack holds only so many strings
# in one printf), U lines the new uri of the R line with the same clock.
PHASE_SCRIPT = r'''
usdt:@SO@:httpd:request__phase
{
	printf("P\t%llu\t%llu\t%d\t%llu\t%d\t%s\n", nsecs, arg0, arg1, arg4, tid, str(arg3));
	printf("N\t%d\t%s\n", arg1, str(arg2));
}
'''
REDIRECT_SCRIPT = r'''
usdt:@SO@:httpd:internal__redirect
{
	$t = nsecs;
	printf("R\t%llu\t%llu\t%d\t%d\t%s\n", $t, arg0, arg3, arg4, str(arg1));
	printf("U\t%llu\t%llu\t%s\n", $t, arg0, str(arg2));
}
'''
SCRIPT = PHASE_SCRIPT + REDIRECT_SCRIPT + r'''
usdt:@SO@:httpd:request__done
{
	printf("D\t%llu\t%llu\t%d\n", nsecs, arg0, arg1);
}
'''

# A location every request to is refused in the access phase.
EXTRA = """
<Location /denied>
  Require all denied
</Location>
"""

FULL = ["translate", "access", "type", "handler", "log", "end"]
NUMBERS = {"translate": 1, "access": 2, "type": 3, "handler": 4, "log": 5, "end": 6}


class Trace:
    """Events per request id, in time order: ("phase", name, uri, elapsed_us,
    tid), ("redirect", old, new, status, kind), ("done", status)."""

    def __init__(self, text):
        rows, names, new_uri = [], {}, {}
        for line in text.splitlines():
            f = line.split("\t")
            if f[0] == "N" and len(f) == 3:
                names[int(f[1])] = f[2]
            elif f[0] == "U" and len(f) == 4:
                new_uri[(int(f[1]), int(f[2]))] = f[3]
        for line in text.splitlines():
            f = line.split("\t")
            if f[0] == "P" and len(f) == 7:
                rows.append((int(f[1]), int(f[2]),
                             ("phase", names[int(f[3])], f[6], int(f[4]), int(f[5]))))
            elif f[0] == "R" and len(f) == 6:
                t, rid = int(f[1]), int(f[2])
                rows.append((t, rid, ("redirect", f[5], new_uri[(t, rid)], int(f[3]),
                                      int(f[4]))))
            elif f[0] == "D" and len(f) == 4:
                rows.append((int(f[1]), int(f[2]), ("done", int(f[3]))))
        assert all(NUMBERS[name] == n for n, name in names.items()), names
        self.by_id = {}
        for _, rid, ev in sorted(rows):
            self.by_id.setdefault(rid, []).append(ev)

    def only(self):
        assert len(self.by_id) == 1, self.by_id
        return list(self.by_id.values())[0]


def shape(events):
    """A request's events as compact tuples: phase names with their uri,
    redirects with all arguments, done with its status."""
    return [(ev[1], ev[2]) if ev[0] == "phase" else ev for ev in events]


def curl(h, path, *opts):
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}"]
                         + list(opts) + [h.url(path)], capture_output=True, text=True)
    return out.stdout


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


# ---------------------------------------------------------------------------
# scripts/bpftrace/phases.bt, run as an operator runs it
# ---------------------------------------------------------------------------
EACH_LINE = re.compile(r"^(\d+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+) (\S+)$")


def test_request_phases_script(bpftrace, make_httpd):
    h = make_httpd("event", extra=EXTRA)
    handlers.install(h)
    t = bpftrace(argv=[os.path.join(SCRIPTS, "phases.bt"), MODULE, "each"])
    for path, code in (("/static.html", "200"), ("/denied", "403"),
                       ("/missing.html", "404"), ("/sleep.lua", "200")):
        assert curl(h, path) == code
    h.wait_access_lines(4)
    t.stop()
    rows = {}
    for line in t.raw().splitlines():
        m = EACH_LINE.match(line)
        if m:
            v = [int(x) for x in m.groups()[:7]]
            rows[m.group(8)] = dict(zip(["id", "read", "translate", "access", "type",
                                         "handler", "log"], v))
    assert sorted(rows) == ["/denied", "/missing.html", "/sleep.lua", "/static.html"]
    # A phase that did not run is exactly 0; the 0.2 s sleep is in the handler.
    assert (rows["/denied"]["type"], rows["/denied"]["handler"]) == (0, 0)
    assert rows["/sleep.lua"]["handler"] >= handlers.SLEEP_S * 1e6
    assert len({r["id"] for r in rows.values()}) == 4
    # bpftrace compiled it without a warning (an address-space one, once)
    assert not [l for l in t.err if "WARNING" in l], t.describe()
    # Without `each`: histograms at exit, one per phase, in phase order.
    t = bpftrace(argv=[os.path.join(SCRIPTS, "phases.bt"), MODULE])
    assert curl(h, "/static.html") == "200"
    h.wait_access_lines(5)
    t.stop()
    keys = re.findall(r'^@phase_us\[(\d \w+)\]:', t.raw(), re.M)
    assert keys == ["0 read", "1 translate", "2 access", "3 type", "4 handler", "5 log"]

