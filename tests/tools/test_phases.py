"""`httpdtrace phases` on a real Apache: exact per-phase counts for a known
mix of requests, and the slow-request mode putting a Lua handler's known
sleep in the handler phase of the right request (and of no other)."""
import re
import subprocess

from harness import handlers
from harness.httpd import MODULE

PHASES = ["read", "translate", "access", "type", "handler", "log"]
EXTRA = """
<Location /denied>
  Require all denied
</Location>
"""
TABLE_ROW = re.compile(r"^(\w+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+)$")
SLOW_ROW = re.compile(r"^(\d+) +(\d+) +(\d+) +(\S+) +(\S+) +(\S+) +(\S+) +(\S+) +(\S+) (\S+)$")


def get(h, path):
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", h.url(path)],
                         capture_output=True, text=True)
    return out.stdout


def drive(h, paths):
    for path, code in paths:
        assert get(h, path) == code, path
    h.wait_access_lines(len(paths))


def tables(text):
    """Each report's table: [{phase: (count, avg, p50, p90, p99, max)}]."""
    out = []
    for line in text.splitlines():
        if line.split()[:2] == ["PHASE", "COUNT"]:
            out.append({})
        m = TABLE_ROW.match(line)
        if m and m.group(1) in PHASES:
            out[-1][m.group(1)] = tuple(int(x) for x in m.groups()[1:])
    return out


MIX = [("/static.html", "200")] * 5 + [("/denied", "403"), ("/missing.html", "404")]


def test_counts_per_phase(httpdtrace, make_httpd):
    h = make_httpd("event", extra=EXTRA)
    t = httpdtrace("phases", "-m", MODULE)
    drive(h, MIX)
    t.stop(settle=1.0)
    assert t.rc == 0, t.describe()
    (table,) = tables(t.stdout)
    counts = {p: table[p][0] for p in PHASES}
    # The 403 has no type or handler phase; the 404's ErrorDocument runs them
    # twice, counted once per request.
    assert counts == {"read": 7, "translate": 7, "access": 7, "type": 6, "handler": 6,
                      "log": 7}
    for p in PHASES:
        count, avg, p50, p90, p99, mx = table[p]
        assert p50 <= p90 <= p99 <= mx and avg <= mx
    # One histogram per phase follows the table.
    assert re.findall(r"^  (\w+) \(microseconds\)$", t.stdout, re.M) == PHASES
    assert HINT not in t.stderr


HINT = "httpdtrace: warning: no access, type or handler phase seen"


def test_says_when_the_phase_hooks_are_off(httpdtrace, make_httpd):
    """Without DTraceProviderPhases On, only read, translate and log are
    counted, and the tool says once what to add; with it (the previous
    test), nothing is said."""
    h = make_httpd("event", extra=EXTRA, phases=False)
    t = httpdtrace("phases", "-m", MODULE)
    drive(h, MIX)
    t.stop(settle=1.0)
    assert t.rc == 0, t.describe()
    (table,) = tables(t.stdout)
    assert {p: table[p][0] for p in PHASES} == {"read": 7, "translate": 7, "access": 0,
                                               "type": 0, "handler": 0, "log": 7}
    assert [l for l in t.stderr.splitlines() if l.startswith(HINT)] == [
        HINT + ": the module registers those hooks only with `DTraceProviderPhases On` "
        "(after its LoadModule line; Debian: mods-available/dtprovider.conf), then "
        "apachectl graceful; until then translate lasts through the handler"]


def test_json_and_interval_reports(httpdtrace, make_httpd):
    h = make_httpd("worker", extra=EXTRA)
    t = httpdtrace("phases", "-m", MODULE, "-j", "1", "2")
    drive(h, MIX[:3])
    t.wait_exit()          # two reports, then it exits by itself
    t.stop(settle=0)
    assert t.rc == 0, t.describe()
    rows = t.json("phase")
    assert [r["phase"] for r in rows] == PHASES * 2
    # Requests land in one interval or the other, never both.
    reads = sum(r["count"] for r in rows if r["phase"] == "read")
    assert reads == 3


def test_slow_requests(httpdtrace, make_httpd):
    h = make_httpd("event", extra=EXTRA)
    handlers.install(h)
    t = httpdtrace("phases", "-m", MODULE, "-s", "%dms" % (handlers.SLEEP_S * 1000 * 3 // 4))
    drive(h, [("/static.html", "200"), ("/sleep.lua", "200"), ("/static.html", "200"),
              ("/sleep.lua", "200"), ("/denied", "403")])
    t.stop(settle=1.0)
    assert t.rc == 0, t.describe()
    lines = t.stdout.splitlines()
    assert lines[0].split() == ["ID", "TOTAL", "STA", "READ", "XLATE", "ACCESS", "TYPE",
                                "HANDLER", "LOG", "URI"]
    rows = [SLOW_ROW.match(l).groups() for l in lines[1:]]
    assert [(r[2], r[9]) for r in rows] == [("200", "/sleep.lua")] * 2
    for r in rows:
        phases = dict(zip(PHASES, r[3:9]))
        # The sleep is in the handler, and the phases add up to the total.
        assert int(phases["handler"]) >= handlers.SLEEP_S * 1e6
        assert sum(int(v) for v in phases.values()) <= int(r[1]) <= \
            sum(int(v) for v in phases.values()) + len(PHASES)
    assert "2 slow requests" in t.stderr


def test_every_request_as_json(httpdtrace, make_httpd):
    h = make_httpd("prefork", extra=EXTRA)
    t = httpdtrace("phases", "-m", MODULE, "-s", "0", "-j")
    drive(h, [("/static.html", "200"), ("/denied", "403"), ("/dir/", "200")])
    t.stop(settle=1.0)
    assert t.rc == 0, t.describe()
    got = {r["uri"]: (r["status"], sorted(r["phases_us"], key=PHASES.index))
           for r in t.json("request")}
    assert got == {"/static.html": (200, PHASES), "/dir/": (200, PHASES),
                   "/denied": (403, ["read", "translate", "access", "log"])}
    # Identical requests (the two 200s) run the same phases; ids differ.
    assert len({r["id"] for r in t.json("request")}) == 3
