"""httpdtrace latency against a real Apache: histogram totals equal to the
requests Apache logged, per-key totals exact, buckets and percentiles equal
to what the latencies `httpdtrace requests -j` saw in parallel give, --ms
scaling, [interval] [count] making exactly count reports, JSON complete,
the kernel-side filters, the (other) histogram past --max-keys, and the
error paths."""
import re
import subprocess

import pytest

from harness.httpd import MODULE
from harness.httpdtrace import TOOL, run
from harness.traffic import MIX, VHOSTS, send, send_mix

HIST_ROW = re.compile(r"^\s+(\d+) \|([@ ]{40}) (\d+)$")
STATS = re.compile(r"^  count (\d+), p50 <= (\d+), p90 <= (\d+), p99 <= (\d+), max (\d+)$")


def slot(v):
    """DTrace's quantize() slot of v: 0 for 0, else 1 + floor(log2(v))."""
    return v.bit_length()


def slot_low(s):
    return 0 if s == 0 else 1 << (s - 1)


def slot_high(s):
    return 0 if s == 0 else (1 << s) - 1


def expected(values):
    """The JSON histogram httpdtrace should print for these values: buckets,
    count, sum, max, and each percentile as the upper edge of the bucket
    holding its rank (ceil(p/100 * count)), clamped to the max."""
    counts = {}
    for v in values:
        counts[slot(v)] = counts.get(slot(v), 0) + 1
    out = {"count": len(values), "sum": sum(values), "max": max(values, default=0),
           "buckets": [{"low": slot_low(s), "high": slot_high(s), "count": counts[s]}
                       for s in sorted(counts)]}
    ordered = sorted(values)
    for p in (50, 90, 99):
        if not values:
            out["p%d" % p] = 0
            continue
        rank = max(1, -(-p * len(values) // 100))
        out["p%d" % p] = min(slot_high(slot(ordered[rank - 1])), out["max"])
    return out


def parse_text(text):
    """Human output -> list of (key line or None, {slot low: count}, stats)."""
    out, key, rows = [], None, {}
    for line in text.splitlines():
        m = HIST_ROW.match(line)
        s = STATS.match(line)
        if m:
            rows[int(m.group(1))] = int(m.group(3))
        elif s:
            stats = dict(zip(("count", "p50", "p90", "p99", "max"), map(int, s.groups())))
            out.append((key, {k: v for k, v in rows.items() if v}, stats))
            key, rows = None, {}
        elif " = " in line:
            key = line
    return out


def traced_pair(httpdtrace, *args):
    """`latency ARGS -j` and, beside it, `requests -j` for the latencies."""
    return (httpdtrace("latency", "-m", MODULE, "-j", *args),
            httpdtrace("requests", "-m", MODULE, "-j"))


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_histogram_matches_requests_and_access_log(httpdtrace, make_httpd, mpm):
    h = make_httpd(mpm, extra=VHOSTS)
    lat, req = traced_pair(httpdtrace)
    text = httpdtrace("latency", "-m", MODULE)
    log = send_mix(h)
    for i in range(30):
        assert send(h, "GET", "/static.html?n=%d" % i) == 200
    log = h.wait_access_lines(len(MIX) + 30)
    for t in (lat, req, text):
        t.stop(settle=0.3)
        assert t.rc == 0, t.describe()
    values = [o["latency_us"] for o in req.json()]
    assert len(values) == len(log) == len(MIX) + 30
    (r,) = lat.json("latency")
    assert (r["report"], r["unit"], r["key"], r["other"], r["overflow"]) == (1, "us", None,
                                                                              None, 0)
    (hist,) = r["histograms"]
    assert hist.pop("key") is None
    assert hist == expected(values)
    # The same numbers in the human form: DTrace's rows, then the stats line.
    ((key, rows, stats),) = parse_text(text.stdout)
    assert key is None
    assert rows == {b["low"]: b["count"] for b in hist["buckets"]}
    assert stats == {k: hist[k] for k in ("count", "p50", "p90", "p99", "max")}
    assert text.stdout.startswith("  microseconds\n           value  ----")


def test_keys_exact(httpdtrace, make_httpd):
    """Per-key histograms: -K status, method, vhost, handler, each total
    exact; the buckets of each key are those of its requests."""
    h = make_httpd("event", extra=VHOSTS)
    runs = {k: httpdtrace("latency", "-m", MODULE, "-j", "-K", k)
            for k in ("status", "method", "vhost", "handler")}
    req = httpdtrace("requests", "-m", MODULE, "-j")
    text = httpdtrace("latency", "-m", MODULE, "-K", "status")
    send_mix(h)
    for i in range(5):
        assert send(h, "GET", "/missing%d" % i) == 404
    h.wait_access_lines(len(MIX) + 5)
    for t in list(runs.values()) + [req, text]:
        t.stop(settle=0.2)
        assert t.rc == 0, t.describe()
    reqs = req.json()
    assert len(reqs) == len(MIX) + 5
    for k, t in runs.items():
        (r,) = t.json("latency")
        assert r["key"] == k and r["overflow"] == 0
        want = {}
        for o in reqs:
            want.setdefault(o[k], []).append(o["latency_us"])
        got = {x.pop("key"): x for x in r["histograms"]}
        assert got == {key: expected(v) for key, v in want.items()}, k
        # sorted by key
        assert [x for x in got] == sorted(got)
    statuses = {x["key"]: x["count"] for x in runs["status"].json("latency")[0]["histograms"]}
    assert statuses == {200: 5, 404: 2 + 5}
    methods = {x["key"]: x["count"] for x in runs["method"].json("latency")[0]["histograms"]}
    assert methods == {"GET": 10, "HEAD": 1, "POST": 1}
    vhosts = {x["key"]: x["count"] for x in runs["vhost"].json("latency")[0]["histograms"]}
    assert vhosts == {"test.local": 10, "other.local": 2}
    handlers = runs["handler"].json("latency")[0]["histograms"]
    assert {x["key"]: x["count"] for x in handlers}["lua-script"] == 2
    # Human form: one "status = N" block per status, in order.
    blocks = parse_text(text.stdout)
    assert [(k, s["count"]) for k, _, s in blocks] == [("status = 200", 5),
                                                       ("status = 404", 7)]


def test_milliseconds(httpdtrace, make_httpd):
    """--ms: the histogram of latency_us // 1000 (the slow request lands in
    the 256-511 ms bucket, the fast ones in 0)."""
    h = make_httpd("event", extra=VHOSTS)
    lat, req = traced_pair(httpdtrace, "--ms")
    text = httpdtrace("latency", "-m", MODULE, "--milliseconds")
    send_mix(h)
    for t in (lat, req, text):
        t.stop()
        assert t.rc == 0, t.describe()
    values = [o["latency_us"] // 1000 for o in req.json()]
    (r,) = lat.json("latency")
    assert r["unit"] == "ms"
    (hist,) = r["histograms"]
    del hist["key"]
    assert hist == expected(values)
    assert any(b["low"] == 256 for b in hist["buckets"])  # /slow.lua sleeps 300 ms
    assert text.stdout.startswith("  milliseconds\n")


def test_interval_and_count(httpdtrace, make_httpd):
    """`latency -j 0.4 3` and `latency 0.3 2` end by themselves after exactly
    that many reports; every request is in exactly one report."""
    h = make_httpd("event")
    lat = httpdtrace("latency", "-m", MODULE, "-j", "-K", "status", "0.4", "3")
    text = httpdtrace("latency", "-m", MODULE, "-T", "0.3", "2")
    n = 0
    while lat.proc.poll() is None and n < 400:
        send(h, "GET", "/static.html" if n % 3 else "/nope")
        n += 1
    h.wait_access_lines(n)
    lat.wait_exit()
    text.wait_exit()
    for t in (lat, text):
        t.stop(settle=0)
        assert t.rc == 0, t.describe()
    reports = lat.json("latency")
    assert [r["report"] for r in reports] == [1, 2, 3]
    assert all(0.4 * r["report"] - 0.05 < r["time"] for r in reports)
    # Requests sent after the last report are in none: count those that
    # the last report saw against the access log's first lines.
    total = sum(x["count"] for r in reports for x in r["histograms"])
    assert 0 < total <= n
    got404 = sum(x["count"] for r in reports for x in r["histograms"] if x["key"] == 404)
    assert got404 > 0
    blocks = parse_text(text.stdout)
    assert len(blocks) == 2
    stamps = re.findall(r"^\d\d:\d\d:\d\d\.\d{3}$", text.stdout, re.M)
    assert len(stamps) == 2


def test_interval_totals_exact(httpdtrace, make_httpd):
    """Reports every 0.2 s while requests flow, then Ctrl-C: the reports
    (the last one for the cut interval) add up to every request logged."""
    h = make_httpd("event")
    lat = httpdtrace("latency", "-m", MODULE, "-j", "0.2")
    for i in range(150):
        assert send(h, "GET", "/static.html") == 200
    h.wait_access_lines(150)
    lat.stop(settle=0.3)
    assert lat.rc == 0, lat.describe()
    reports = lat.json("latency")
    assert len(reports) >= 2
    assert [r["report"] for r in reports] == list(range(1, len(reports) + 1))
    assert sum(x["count"] for r in reports for x in r["histograms"]) == 150


def test_filters_run_in_kernel(httpdtrace, make_httpd):
    h = make_httpd("event", extra=VHOSTS)
    runs = {
        "404": ("-s", "404"),
        "2xx": ("-s", "2xx"),
        "slow": ("-l", "200ms"),
        "post": ("-M", "post"),
        "other": ("-H", "other.local"),
        "lua": ("-u", ".lua"),
        "dir": ("-u", "/dir/"),
        "both": ("-u", "static", "-M", "HEAD"),
        "none": ("-s", "5xx"),
    }
    runs = {k: httpdtrace("latency", "-m", MODULE, "-j", *a) for k, a in runs.items()}
    req = httpdtrace("requests", "-m", MODULE, "-j")
    send_mix(h)
    for t in list(runs.values()) + [req]:
        t.stop(settle=0.2)
        assert t.rc == 0, t.describe()
    reqs = req.json()
    preds = {
        "404": lambda o: o["status"] == 404,
        "2xx": lambda o: 200 <= o["status"] < 300,
        "slow": lambda o: o["latency_us"] >= 200000,
        "post": lambda o: o["method"] == "POST",
        "other": lambda o: o["vhost"] == "other.local",
        "lua": lambda o: ".lua" in o["uri"],
        "dir": lambda o: "/dir/" in o["uri"],
        "both": lambda o: "static" in o["uri"] and o["method"] == "HEAD",
        "none": lambda o: False,
    }
    for k, t in runs.items():
        (r,) = t.json("latency")
        want = [o["latency_us"] for o in reqs if preds[k](o)]
        if not want:
            assert r["histograms"] == [], k
            continue
        (hist,) = r["histograms"]
        del hist["key"]
        assert hist == expected(want), k
    counts = {k: sum(x["count"] for x in t.json("latency")[0]["histograms"])
              for k, t in runs.items()}
    assert counts == {"404": 2, "2xx": 5, "slow": 1, "post": 1, "other": 2, "lua": 2, "dir": 1,
                      "both": 1, "none": 0}


def test_max_keys_overflow_is_counted(httpdtrace, make_httpd):
    """--max-keys 2 with three methods: the third goes to (other), counted,
    shown and warned about; nothing is lost."""
    h = make_httpd("event")
    lat = httpdtrace("latency", "-m", MODULE, "-j", "-K", "method", "--max-keys", "2")
    text = httpdtrace("latency", "-m", MODULE, "-K", "method", "--max-keys", "2")
    for method, n in (("GET", 4), ("HEAD", 3), ("OPTIONS", 2)):
        for _ in range(n):
            send(h, method, "/static.html")
    h.wait_access_lines(9)
    for t in (lat, text):
        t.stop()
        assert t.rc == 0, t.describe()
    (r,) = lat.json("latency")
    assert {x["key"]: x["count"] for x in r["histograms"]} == {"GET": 4, "HEAD": 3}
    assert r["overflow"] == 2 and r["other"]["count"] == 2
    assert "method = (other: past --max-keys 2)" in text.stdout
    assert ("httpdtrace: warning: 2 requests past --max-keys 2 distinct keys, shown as "
            "(other)") in text.stderr


def test_empty_report(tracing):
    r = run("latency", "-m", MODULE, "-j", "0.2", "1")
    assert r.returncode == 0, r.stderr
    (line,) = r.stdout.splitlines()
    assert line.endswith(',"report":1,"unit":"us","key":null,"histograms":[],'
                         '"other":null,"overflow":0}')
    r = run("latency", "-m", MODULE, "0.2", "1")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "  microseconds\n  count 0, p50 <= 0, p90 <= 0, p99 <= 0, max 0\n\n"


def test_closed_pipe_exits_quietly(tracing, make_httpd):
    """`latency 0.1 | head -1`: the second report finds the pipe closed;
    exit 0 without a word."""
    make_httpd("event")
    sh = "%s latency -m %s -j 0.1 | head -1; echo \"rc=${PIPESTATUS[0]}\"" % (TOOL, MODULE)
    p = subprocess.run(["bash", "-c", sh], capture_output=True, text=True, timeout=30)
    lines = p.stdout.splitlines()
    assert len(lines) == 2 and lines[1] == "rc=0", p.stdout
    assert re.match(r"^httpdtrace: tracing 1 probe in \S+; Ctrl-C to end\n$", p.stderr), p.stderr


@pytest.mark.parametrize("args, msg", [
    (["-K", "uri"], "invalid key 'uri': give status, method, vhost or handler"),
    (["0"], "invalid interval '0': give seconds (1, 0.5) or a duration (500ms)"),
    (["x"], "invalid interval 'x'"),
    (["1", "0"], "invalid count '0': give a number of reports (1 or more)"),
    (["1", "2", "3"], "unexpected argument '3' (after [interval] [count])"),
    # "-1" reaches argp as an option: it must not say "invalid option -- '1'"
    (["1", "-1"], "a negative number is not an argument: an interval and a count are positive"),
    (["-5"], "a negative number is not an argument"),
    (["--max-keys", "0"], "invalid --max-keys '0'"),
    (["-u", "x" * 64], "-u wants 1 to 63 bytes"),
    (["-s", "99"], "invalid status '99'"),
])
def test_error_bad_arguments(args, msg):
    r = run("latency", *args)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines()[0].startswith("httpdtrace latency: " + msg), r.stderr


def test_error_module_missing(tracing):
    r = run("latency", "-m", "/nonexistent/mod_dtprovider.so")
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == ("httpdtrace: /nonexistent/mod_dtprovider.so: No such file or "
                        "directory (give the path of mod_dtprovider.so with -m)\n")


def test_help():
    r = run("latency", "--help")
    assert r.returncode == 0
    assert "USAGE: httpdtrace latency" in r.stdout and "EXAMPLES:" in r.stdout
    for opt in ("-K,", "--ms", "-s,", "-l,", "-M,", "-H,", "-u,", "-j,", "-T,", "--max-keys",
                "-m,", "-p,", "-v,"):
        assert opt in r.stdout, opt
    assert re.search(r"^  latency ", run("--help").stdout, re.M)


def test_pid_filter(httpdtrace, make_httpd):
    """-p CHILD: the histogram of that prefork child's requests only; -p
    PARENT: all of them."""
    h = make_httpd("prefork")
    child = h.children()[0]
    one = httpdtrace("latency", "-m", MODULE, "-j", "-p", child)
    parent = httpdtrace("latency", "-j", "-p", h.proc.pid)
    req = httpdtrace("requests", "-m", MODULE, "-j")
    for i in range(40):
        send(h, "GET", "/static.html?n=%d" % i)
    h.wait_access_lines(40)
    for t in (one, parent, req):
        t.stop()
        assert t.rc == 0, t.describe()
    reqs = req.json()
    assert len(reqs) == 40
    (p,) = parent.json("latency")[0]["histograms"]
    del p["key"]
    assert p == expected([o["latency_us"] for o in reqs])
    mine = [o["latency_us"] for o in reqs if o["pid"] == child]
    hists = one.json("latency")[0]["histograms"]
    if mine:
        (c,) = hists
        del c["key"]
        assert c == expected(mine)
    else:
        assert hists == []
