"""httpdtrace top against a real Apache with known traffic.

The truth for every number is a parallel `httpdtrace requests -j`: each
request's uri, client, vhost, status, method, handler, bytes and latency as
the module reported them. Each top snapshot (-j, and -b parsed) must agree
with it exactly: counts per key and status, bytes, 5xx, averages, and the
log2 percentiles computed here the way hist_percentile() does. The recent
windows (-T, -H), -s truncation, the filter, the table's overflow, the
in-flight view (a Lua handler that sleeps; a child killed mid-request) and
the full screen driven in tmux are each checked the same way.
"""
import http.client
import math
import os
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest

from harness.httpd import MODULE
from harness.httpdtrace import TOOL, run
from harness.traffic import VHOSTS  # test.local and other.local

ERR_LUA = ("function handle(r)\n"
           "  return 500\n"
           "end\n")

SLEEP_LUA = ("function handle(r)\n"
             "  os.execute('sleep ' .. (r.args or '2'))\n"
             "  r:puts('slept\\n')\n"
             "  return apache2.OK\n"
             "end\n")

# (method, path, Host, body, expected status, over IPv6)
TRAFFIC = (
    [("GET", "/static.html", "test.local", None, 200, i % 2 == 1) for i in range(5)] +
    [("GET", "/nope", "other.local", None, 404, False) for _ in range(3)] +
    [("GET", "/a/b/c.html", "test.local", None, 200, True) for _ in range(2)] +
    [("GET", "/a/b/d.html", "test.local", None, 200, False),
     ("GET", "/a/x.html", "other.local", None, 200, False),
     ("HEAD", "/a/x.html", "test.local", None, 200, True),
     ("POST", "/post.lua", "test.local", b"hello", 200, False)] +
    [("GET", "/err.lua", "test.local", None, 500, i == 0) for i in range(2)])


def write_docs(h):
    for path, text in [("a/b/c.html", "c\n"), ("a/b/d.html", "dd\n"), ("a/x.html", "xxx\n"),
                       ("err.lua", ERR_LUA), ("sleep.lua", SLEEP_LUA)]:
        full = os.path.join(h.docroot, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
    for dirpath, _, files in os.walk(h.docroot):
        os.chmod(dirpath, 0o755)
        for n in files:
            os.chmod(os.path.join(dirpath, n), 0o644)


def send(h, method, path, host="test.local", body=None, v6=False, timeout=30):
    c = http.client.HTTPConnection("::1" if v6 else "127.0.0.1", h.port, timeout=timeout)
    c.request(method, path, body=body, headers={"Host": host})
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


def send_traffic(h, traffic=TRAFFIC, before=0):
    for method, path, host, body, status, v6 in traffic:
        assert send(h, method, path, host, body, v6) == status, path
    h.wait_access_lines(before + len(traffic))


@pytest.fixture
def server(make_httpd):
    h = make_httpd("event", extra=VHOSTS)
    write_docs(h)
    return h


# -- what top should say, computed from `requests -j` -------------------------
def slot_high(v):
    return (1 << v.bit_length()) - 1 if v else 0


def percentile(lats, p, vmax=None):
    """hist_percentile() on the log2 histogram of lats."""
    if not lats:
        return 0
    vmax = max(lats) if vmax is None else vmax
    x = p / 100.0 * len(lats)
    rank = max(int(x) + (1 if int(x) < x else 0), 1)
    return min(slot_high(sorted(lats)[rank - 1]), vmax)


def uri_prefix(uri, n):
    """fmt_uri_prefix(): the first n segments, then "/..." if there were more."""
    slashes = [i for i, ch in enumerate(uri) if ch == "/"]
    if n and len(slashes) > n and slashes[n] + 1 < len(uri):
        return uri[:slashes[n]] + "/..."
    return uri


FIELDS = {"uri": "uri", "client": "useragent_ip", "vhost": "vhost", "status": "status",
          "method": "method", "handler": "handler"}


def expected_rows(reqs, group, segments=0):
    rows = {}
    for r in reqs:
        k = str(r[FIELDS[group]]) or "-"
        if group == "uri":
            k = uri_prefix(k, segments)
        rows.setdefault(k, []).append(r)
    out = {}
    for k, rs in rows.items():
        lats = [r["latency_us"] for r in rs]
        out[k] = {"requests": len(rs), "bytes_out": sum(r["bytes_out"] for r in rs),
                  "5xx": sum(1 for r in rs if 500 <= r["status"] <= 599),
                  "avg_us": sum(lats) // len(lats), "p95_us": percentile(lats, 95)}
    return out


def got_rows(snap):
    return {r["key"]: {f: r[f] for f in ("requests", "bytes_out", "5xx", "avg_us", "p95_us")}
            for r in snap["rows"]}


def last_snapshot(t):
    snaps = t.json("top")
    assert snaps, t.stderr
    return snaps[-1]


def start_top(httpdtrace, *args):
    return httpdtrace("top", "-m", MODULE, "-j", "-d", "0.5", *args)


# -- JSON: every grouping, truncation, filter, totals, windows ----------------
def test_json_rows_match_requests_for_every_grouping(httpdtrace, server):
    truth = httpdtrace("requests", "-m", MODULE, "-j")
    tops = {g: start_top(httpdtrace, "-g", g) for g in FIELDS}
    tops["segments"] = start_top(httpdtrace, "-s", "2")
    tops["filter"] = start_top(httpdtrace, "-f", "^/a/(b|x)")
    send_traffic(server)
    truth.stop(settle=0.2)
    reqs = truth.json()
    assert len(reqs) == len(TRAFFIC)
    for t in tops.values():
        t.stop(settle=0)
        assert t.rc == 0, t.describe()
    lats = [r["latency_us"] for r in reqs]

    for g in FIELDS:
        snap = last_snapshot(tops[g])
        assert snap["group"] == g
        assert got_rows(snap) == expected_rows(reqs, g), g
        # the header: totals, classes, both windows over the same requests
        assert snap["requests"] == len(TRAFFIC)
        assert snap["status"] == {"1xx": 0, "2xx": 11, "3xx": 0, "4xx": 3, "5xx": 2, "other": 0}
        assert snap["bytes_out"] == sum(r["bytes_out"] for r in reqs)
        assert (snap["keys"], snap["overflow"], snap["dropped"]) == (
            len({(r["uri"], r["useragent_ip"], r["vhost"], r["handler"], r["method"],
                  r["status"]) for r in reqs}), 0, 0)
        for w in snap["windows"]:
            assert w["requests"] == len(TRAFFIC), w
            assert [w["p50_us"], w["p95_us"], w["p99_us"]] == [
                percentile(lats, 50), percentile(lats, 95), percentile(lats, 99)], w
        assert snap["windows"][0]["max_us"] == max(lats)
        assert [w["name"] for w in snap["windows"]] == ["since start", "last 30s"]
        assert snap["inflight"] == []

    # the traffic's own shape, as a cross-check of the truth itself
    assert {k: v["requests"] for k, v in got_rows(last_snapshot(tops["uri"])).items()} == {
        "/static.html": 5, "/nope": 3, "/a/b/c.html": 2, "/a/b/d.html": 1, "/a/x.html": 2,
        "/post.lua": 1, "/err.lua": 2}
    assert got_rows(last_snapshot(tops["status"]))["500"]["5xx"] == 2

    seg = got_rows(last_snapshot(tops["segments"]))
    assert seg == expected_rows(reqs, "uri", segments=2)
    assert seg["/a/b/..."]["requests"] == 3 and "/a/x.html" in seg

    filt = last_snapshot(tops["filter"])
    assert filt["filter"] == "^/a/(b|x)"
    want = expected_rows([r for r in reqs if re.match(r"^/a/(b|x)", r["uri"])], "uri")
    assert got_rows(filt) == want and len(want) == 3
    assert filt["requests"] == len(TRAFFIC)  # the header still counts everything


def test_json_sorts_and_row_limit(httpdtrace, server):
    by_key = start_top(httpdtrace, "-o", "key")
    by_5xx = start_top(httpdtrace, "-o", "5xx", "-r", "2")
    by_req = start_top(httpdtrace)
    send_traffic(server)
    for t in (by_key, by_5xx, by_req):
        t.stop()
        assert t.rc == 0, t.describe()
    keys = [r["key"] for r in last_snapshot(by_key)["rows"]]
    assert keys == sorted(keys) and len(keys) == 7
    assert [r["key"] for r in last_snapshot(by_5xx)["rows"]] == ["/err.lua", "/static.html"]
    reqs = [r["requests"] for r in last_snapshot(by_req)["rows"]]
    assert reqs == [5, 3, 2, 2, 2, 1, 1]


def test_recent_windows_seconds_and_requests(httpdtrace, server):
    truth = httpdtrace("requests", "-m", MODULE, "-j")
    secs = start_top(httpdtrace, "-T", "2")
    last3 = start_top(httpdtrace, "-H", "3")
    first = TRAFFIC[:6]
    send_traffic(server, first)
    # more than the 2 s window (and its 1 s snapshot step) before the rest
    time.sleep(4)
    second = [("GET", "/a/x.html", "test.local", None, 200, False),
              ("GET", "/nope", "test.local", None, 404, False),
              ("GET", "/static.html", "test.local", None, 200, False),
              ("GET", "/err.lua", "test.local", None, 500, False)]
    send_traffic(server, second, before=len(first))
    for t in (truth, secs, last3):
        t.stop(settle=0.2)
        assert t.rc == 0, t.describe()
    reqs = truth.json()
    assert len(reqs) == len(first) + len(second)
    all_lats = [r["latency_us"] for r in reqs]
    recent = [r["latency_us"] for r in reqs[len(first):]]

    w_all, w_recent = last_snapshot(secs)["windows"]
    assert w_all["requests"] == len(reqs)
    assert w_all["p99_us"] == percentile(all_lats, 99)
    assert w_recent["name"] == "last 2s"
    assert w_recent["requests"] == len(second)
    assert w_recent["bytes_out"] == sum(r["bytes_out"] for r in reqs[len(first):])
    assert 2 <= w_recent["seconds"] < w_all["seconds"]
    # the window's exact max is unknown: its largest slot's upper edge
    wmax = min(slot_high(max(recent)), max(all_lats))
    assert [w_recent[p] for p in ("p50_us", "p95_us", "p99_us")] == [
        percentile(recent, p, wmax) for p in (50, 95, 99)]

    w_all, w_last = last_snapshot(last3)["windows"]
    assert w_last["name"] == "last 3 req" and w_last["requests"] == 3
    tail = [r["latency_us"] for r in reqs[-3:]]
    assert [w_last[p] for p in ("p50_us", "p95_us", "p99_us", "max_us")] == [
        percentile(tail, 50), percentile(tail, 95), percentile(tail, 99), max(tail)]
    assert w_last["bytes_out"] == sum(r["bytes_out"] for r in reqs[-3:])
    assert last_snapshot(last3)["dropped"] == 0


def test_table_overflow_is_counted(httpdtrace, server):
    t = start_top(httpdtrace, "-K", "16")
    traffic = [("GET", "/missing-%d" % i, "test.local", None, 404, False) for i in range(24)]
    send_traffic(server, traffic)
    t.stop()
    assert t.rc == 0, t.describe()
    snap = last_snapshot(t)
    assert (snap["requests"], snap["keys"], snap["max_keys"]) == (24, 16, 16)
    assert snap["overflow"] == 8
    assert sum(r["requests"] for r in snap["rows"]) == 16
    assert snap["status"]["4xx"] == 24


# -- batch text ---------------------------------------------------------------
def text_snapshots(out):
    return [s for s in out.split("httpdtrace top - ")[1:]]


def parse_text(snap):
    lines = snap.splitlines()
    head = re.match(r"requests (\d+): 1xx (\d+), 2xx (\d+), 3xx (\d+), 4xx (\d+), 5xx (\d+), "
                    r"other (\d+); in flight (\d+)$", lines[1])
    assert head, lines[1]
    assert lines[2].split()[:2] == ["WINDOW", "REQS"]
    i = lines.index("") + 1
    assert lines[i].split()[:6] == ["REQS", "REQ/S", "BYTES/S", "AVG", "P95", "5XX"]
    rows = {}
    for line in lines[i + 1:]:
        if not line:
            break
        f = line.split(None, 6)
        rows[f[6]] = (int(f[0]), int(f[5]))
    return [int(x) for x in head.groups()], rows


def test_batch_text_counts_per_uri_and_status(httpdtrace, server):
    by_uri = httpdtrace("top", "-m", MODULE, "-b", "-d", "0.5")
    by_status = httpdtrace("top", "-m", MODULE, "-b", "-g", "status", "0.5")
    send_traffic(server)
    for t in (by_uri, by_status):
        t.stop()
        assert t.rc == 0, t.describe()
    head, rows = parse_text(text_snapshots(by_uri.stdout)[-1])
    assert head == [len(TRAFFIC), 0, 11, 0, 3, 2, 0, 0]
    assert rows == {"/static.html": (5, 0), "/nope": (3, 0), "/a/b/c.html": (2, 0),
                    "/a/b/d.html": (1, 0), "/a/x.html": (2, 0), "/post.lua": (1, 0),
                    "/err.lua": (2, 2)}
    assert "by uri" in by_uri.stdout and "URI" in by_uri.stdout
    _, rows = parse_text(text_snapshots(by_status.stdout)[-1])
    assert rows == {"200": (11, 0), "404": (3, 0), "500": (2, 2)}


def test_batch_count_ends_the_run(tracing, server):
    # -n 2 and the positional [interval] [count] both stop after 2 reports
    for args in (["-b", "-n", "2", "-d", "0.3"], ["-j", "0.3", "2"]):
        p = subprocess.run([TOOL, "top", "-m", MODULE] + args, capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, p.stderr
        if "-j" in args:
            assert len(p.stdout.splitlines()) == 2
        else:
            assert len(text_snapshots(p.stdout)) == 2


# -- in flight ----------------------------------------------------------------
def poll_snapshots(t, pred, timeout=20):
    """Wait for a JSON snapshot newer than the call for which pred holds;
    return it."""
    deadline = time.time() + timeout
    seen = len(t.json("top"))
    while time.time() < deadline:
        snaps = t.json("top")
        for s in snaps[seen:]:
            if pred(s):
                return s
        seen = len(snaps)
        time.sleep(0.1)
    raise AssertionError("no snapshot matched; last: %r" % (t.json("top")[-1:],))


def sleeping(snap):
    return [f for f in snap["inflight"] if f["uri"] == "/sleep.lua"]


def test_inflight_shows_a_held_request_until_done(httpdtrace, make_httpd):
    h = make_httpd("prefork", extra=VHOSTS)
    write_docs(h)
    t = start_top(httpdtrace, "-d", "0.3")
    client = threading.Thread(target=send, args=(h, "GET", "/sleep.lua?3", "test.local", None,
                                                 True))
    client.start()
    first = poll_snapshots(t, sleeping)
    (f,) = sleeping(first)
    assert (f["client"], f["method"]) == ("::1", "GET")
    assert f["pid"] in h.children()
    later = poll_snapshots(t, lambda s: sleeping(s) and sleeping(s)[0]["age_us"] > f["age_us"])
    assert sleeping(later)[0]["id"] == f["id"]
    client.join(30)
    done = poll_snapshots(t, lambda s: not s["inflight"] and s["requests"] == 1)
    assert done["gone"] == 0
    t.stop()
    assert t.rc == 0, t.describe()


def test_inflight_of_a_killed_child_is_dropped_and_counted(httpdtrace, make_httpd):
    h = make_httpd("prefork", extra=VHOSTS)
    write_docs(h)
    t = start_top(httpdtrace, "-d", "0.3")
    failed = []

    def held():
        try:
            send(h, "GET", "/sleep.lua?20", timeout=60)
        except (OSError, http.client.HTTPException) as e:
            failed.append(e)  # the child died mid-request: no response

    client = threading.Thread(target=held)
    client.start()
    (f,) = sleeping(poll_snapshots(t, sleeping))
    os.kill(f["pid"], signal.SIGKILL)  # that child never fires request-done
    s = poll_snapshots(t, lambda s: s["gone"] == 1)
    assert s["inflight"] == [] and s["requests"] == 0
    client.join(60)
    assert failed
    t.stop()
    assert t.rc == 0, t.describe()


# -- full screen in tmux ------------------------------------------------------
class Tmux:
    """A private tmux server (its own socket) running one shell."""

    def __init__(self, tmp_path):
        self.sock = str(tmp_path / "tmux.sock")
        self.cmd("new-session", "-d", "-x", "120", "-y", "40", "sh")
        self.cmd("set-option", "-g", "status", "off")

    def cmd(self, *args):
        return subprocess.run(["tmux", "-S", self.sock] + list(args), capture_output=True,
                              text=True, timeout=10, check=True).stdout

    def keys(self, *keys):
        self.cmd("send-keys", *keys)

    def screen(self):
        return self.cmd("capture-pane", "-p")

    def wait(self, pred, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            s = self.screen()
            if pred(s):
                return s
            time.sleep(0.1)
        raise AssertionError("screen never matched:\n" + self.screen())

    def kill(self):
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True)


@pytest.fixture
def tmux(tracing, tmp_path):
    if not shutil.which("tmux"):
        pytest.fail("tmux is not installed (make check-deps)")
    t = Tmux(tmp_path)
    yield t
    t.kill()


def table(screen):
    """The rows under the table heading: {key: REQS}."""
    lines = screen.splitlines()
    i = next(n for n, line in enumerate(lines) if line.split()[:2] == ["REQS", "REQ/S"])
    rows = []
    for line in lines[i + 1:]:
        f = line.split(None, 6)
        if len(f) < 7 or not f[0].isdigit():
            break
        rows.append((f[6], int(f[0])))
    return rows


def test_full_screen_keys_in_tmux(tmux, server):
    tmux.keys("%s top -m %s -d 0.3; echo top-exited-$?" % (TOOL, MODULE), "Enter")
    tmux.wait(lambda s: "httpdtrace top - up" in s)
    send_traffic(server)
    s = tmux.wait(lambda s: "requests %d: 1xx 0, 2xx 11" % len(TRAFFIC) in s)
    assert re.search(r"^since start +%d " % len(TRAFFIC), s, re.M)
    rows = table(s)
    assert rows[0] == ("/static.html", 5) and len(rows) == 7

    tmux.keys("k")  # sort by key
    s = tmux.wait(lambda s: "sort key" in s)
    keys = [k for k, _ in table(s)]
    assert keys == sorted(keys)
    tmux.keys("n")
    tmux.wait(lambda s: "sort requests" in s and table(s)[0][0] == "/static.html")

    tmux.keys("g")  # group by client
    s = tmux.wait(lambda s: "by client" in s)
    assert dict(table(s)) == {"127.0.0.1": 10, "::1": 6}
    for _ in range(G_LEFT):
        tmux.keys("g")
    tmux.wait(lambda s: "by uri" in s)

    tmux.keys("f", "^/a/", "Enter")  # filter
    s = tmux.wait(lambda s: "filter ^/a/" in s)
    assert sorted(table(s)) == [("/a/b/c.html", 2), ("/a/b/d.html", 1), ("/a/x.html", 2)]
    tmux.keys("f", "BSpace", "BSpace", "BSpace", "BSpace", "Enter")
    s = tmux.wait(lambda s: "filter" not in s.splitlines()[0])
    assert len(table(s)) == 7

    tmux.keys("Enter")  # drill down into the top row, /static.html
    s = tmux.wait(lambda s: "drill-down: uri /static.html >" in s)
    assert dict(table(s)) == {"127.0.0.1": 3, "::1": 2}
    status_head = s.splitlines().index(next(
        line for line in s.splitlines() if line.split()[-1:] == ["STATUS"]))
    assert s.splitlines()[status_head + 1].split()[0] == "5"
    assert s.splitlines()[status_head + 1].split()[-1] == "200"
    tmux.keys("BSpace")
    s = tmux.wait(lambda s: "drill-down" not in s and "by uri" in s)
    assert len(table(s)) == 7

    # a request held open shows in the in-flight view, then leaves it
    client = threading.Thread(target=send, args=(server, "GET", "/sleep.lua?2"))
    client.start()
    tmux.keys("i")
    s = tmux.wait(lambda s: "IN FLIGHT: 1" in s and "/sleep.lua" in s)
    assert re.search(r"^ +\S+ +\d+ 127\.0\.0\.1 +GET +/sleep\.lua$", s, re.M), s
    client.join(30)
    tmux.wait(lambda s: "IN FLIGHT: 0" in s)
    tmux.keys("i")
    tmux.wait(lambda s: "/static.html" in s)

    # paused: the screen keeps its numbers while requests go on; then catches up
    tmux.keys("Space")
    tmux.wait(lambda s: s.splitlines()[0].endswith("[paused]"))
    send_traffic(server, TRAFFIC[:1], before=len(TRAFFIC) + 1)
    time.sleep(1.5)  # five refresh periods: a screen that still refreshed would show 17
    assert "requests %d: " % (len(TRAFFIC) + 1) in tmux.screen()
    tmux.keys("Space")
    tmux.wait(lambda s: "requests %d: " % (len(TRAFFIC) + 2) in s and "[paused]" not in s)

    tmux.keys("h")
    tmux.wait(lambda s: "httpdtrace top - keys" in s)
    tmux.keys("x")
    tmux.wait(lambda s: "httpdtrace top - up" in s)

    tmux.cmd("resize-window", "-x", "90", "-y", "24")
    # the footer was on row 40: seen again only if top laid itself out anew
    s = tmux.wait(lambda s: len(s.splitlines()) == 24 and
                  s.splitlines()[23].startswith("h help  q quit"))
    assert table(s)[0] == ("/static.html", 6)

    tmux.keys("q")
    s = tmux.wait(lambda s: "top-exited-0" in s)
    # the alternate screen is gone: the shell's lines are back, not the table
    assert "REQ/S" not in s and "httpdtrace: tracing" in s


G_LEFT = 5  # g presses from client back to uri (client vhost status method handler uri)


def top_pid(tmux):
    """The httpdtrace process, a child of the pane's shell."""
    shell = tmux.cmd("display-message", "-p", "#{pane_pid}").strip()
    for pid in os.listdir("/proc"):
        try:
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open("/proc/%s/comm" % pid) as f:
                comm = f.read().strip()
        except OSError:
            continue
        if fields[1] == shell and comm == "httpdtrace":
            return int(pid)
    raise AssertionError("no httpdtrace under the pane's shell " + shell)


@pytest.mark.parametrize("how", ["C-c", "SIGTERM"])
def test_full_screen_signals_restore_the_terminal(tmux, server, how):
    tmux.keys("%s top -m %s -d 0.3; echo top-exited-$?" % (TOOL, MODULE), "Enter")
    tmux.wait(lambda s: "httpdtrace top - up" in s)
    if how == "C-c":
        tmux.keys("C-c")
    else:
        os.kill(top_pid(tmux), signal.SIGTERM)
    s = tmux.wait(lambda s: "top-exited-0" in s)
    assert "WINDOW" not in s
    assert tmux.cmd("display-message", "-p", "#{alternate_on}").strip() == "0"


# -- options and errors -------------------------------------------------------
def test_help_and_errors():
    p = run("top", "--help")
    assert p.returncode == 0
    assert "USAGE: httpdtrace top" in p.stdout and "EXAMPLES:" in p.stdout
    for opt in ("-b", "-j", "-T", "-H", "-s", "-f", "-g", "-o", "-K"):
        assert re.search(r"^\s+%s," % opt, p.stdout, re.M), opt
    assert "top" in run("--help").stdout
    for args, msg in [(["-g", "path"], "invalid group 'path'"),
                      (["-o", "speed"], "invalid sort 'speed'"),
                      (["-b", "-j"], "give one"),
                      (["-d", "0"], "invalid delay"),
                      (["-s", "0"], "invalid segment count"),
                      (["-b", "1", "2", "3"], "unexpected argument '3'")]:
        p = run("top", *args)
        assert p.returncode == 2 and msg in p.stderr, (args, p.stderr)
    # full screen wants a terminal; a pipe gets a one-line hint
    p = run("top", "-m", MODULE, stdin=subprocess.DEVNULL)
    assert p.returncode == 2
    assert p.stderr.strip() == ("httpdtrace: full screen needs a terminal: give -b (text) or "
                                "-j (JSON) for a pipe")
    p = run("top", "-b", "-f", "(")
    assert p.returncode == 2 and "invalid regex '('" in p.stderr       # a usage error
