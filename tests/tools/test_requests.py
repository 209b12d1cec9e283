"""httpdtrace requests against a real Apache: every line compared with what
the clients did and with Apache's own access log; each filter shown to keep
what it should and drop the rest; JSON complete; drops counted; the error
paths' one-line messages."""
import http.client
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from harness import MPMS
from harness.httpd import MODULE
from harness.httpdtrace import TOOL, Httpdtrace, parse_requests, run
from harness.traffic import MIX, VHOSTS, send, send_mix

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def asked(e):
    """The path the client asked for, from the log's request line (%U is the
    path after DirectoryIndex or an ErrorDocument redirect)."""
    return e["request_line"].split(" ")[1].split("?")[0]


def key(method, uri, status):
    return (method, uri, status)


def mix_keys(pred=lambda m: True):
    return sorted(key(m[0], m[1].split("?")[0], m[4]) for m in MIX if pred(m))


def line_keys(lines):
    return sorted(key(d["method"], d["uri"], d["status"]) for d in lines)


@pytest.mark.parametrize("mpm", MPMS)
def test_requests_lines_match_access_log(httpdtrace, make_httpd, mpm):
    h = make_httpd(mpm, extra=VHOSTS)
    t = httpdtrace("requests", "-m", MODULE)
    log = send_mix(h)
    t.stop()
    assert t.rc == 0, t.describe()
    lines = parse_requests(t.stdout)
    assert len(lines) == len(MIX) == len(log)
    assert line_keys(lines) == mix_keys()
    # Each line agrees with its access-log line, field by field.
    by_port = {int(e["peer_port"]): e for e in log}
    for d in lines:
        e = by_port[d["peer_port"]]
        assert (d["status"], d["method"], d["uri"]) == (int(e["status"]), e["method"], asked(e))
        # The module's log_transaction hook runs REALLY_FIRST, before
        # mod_log_config takes its own time for %D: never later.
        assert 0 < d["latency_us"] <= int(e["latency_us"])
        # (the log's %p is the vhost's canonical port, not the socket's)
        assert (d["peer_ip"], d["local_ip"], d["local_port"]) == (
            e["peer_ip"], e["local_ip"], h.port)
        assert "?" not in d["uri"]  # query strings hidden without -q
    # Every other request went over IPv6, shown as [::1]:port.
    v6 = [d for d in lines if d["peer_ip"] == "::1"]
    assert len(v6) == 3 and all(d["remote"].startswith("[::1]:") for d in v6)
    assert re.search(r"^httpdtrace: 7 requests, 0 dropped$", t.stderr, re.M), t.stderr


def test_filters_include_and_exclude(httpdtrace, make_httpd):
    """Several tracers with different filters watch the same mix at once."""
    h = make_httpd("event", extra=VHOSTS)
    runs = {
        "all": httpdtrace("requests", "-m", MODULE, "-j", "-q"),
        "404": httpdtrace("requests", "-m", MODULE, "-s", "404"),
        "2xx": httpdtrace("requests", "-m", MODULE, "-s", "2xx"),
        "range": httpdtrace("requests", "-m", MODULE, "-s", "300-404"),
        "slow": httpdtrace("requests", "-m", MODULE, "-l", "200ms"),
        "post": httpdtrace("requests", "-m", MODULE, "-M", "post"),
        "other": httpdtrace("requests", "-m", MODULE, "-H", "other.local"),
        "substr": httpdtrace("requests", "-m", MODULE, "-u", ".lua"),
        "regex": httpdtrace("requests", "-m", MODULE, "-U", r"^/(dir|img)/"),
        "query": httpdtrace("requests", "-m", MODULE, "-q", "-M", "GET", "-s", "200"),
        "none": httpdtrace("requests", "-m", MODULE, "-s", "5xx"),
    }
    log = send_mix(h)
    for t in runs.values():
        t.stop(settle=0)
        assert t.rc == 0, t.describe()
    got = {name: line_keys(parse_requests(t.stdout)) for name, t in runs.items() if name != "all"}
    assert len(runs["all"].json()) == len(MIX)
    assert got["404"] == mix_keys(lambda m: m[4] == 404)
    assert got["2xx"] == mix_keys(lambda m: m[4] == 200)
    assert got["range"] == mix_keys(lambda m: 300 <= m[4] <= 404)
    slow = sorted(key(o["method"], o["uri"], o["status"]) for o in runs["all"].json()
                  if o["latency_us"] >= 200000)
    assert got["slow"] == slow == [("GET", "/slow.lua", 200)]
    assert got["post"] == mix_keys(lambda m: m[0] == "POST")
    assert got["other"] == mix_keys(lambda m: m[2] == "other.local")
    assert got["substr"] == mix_keys(lambda m: ".lua" in m[1])
    assert got["regex"] == mix_keys(lambda m: re.match(r"^/(dir|img)/", m[1]))
    assert got["none"] == []
    # -q shows the query after the uri, only where there was one.
    q = sorted(d["uri"] for d in parse_requests(runs["query"].stdout))
    assert q == sorted(["/static.html?x=1", "/dir/", "/slow.lua"])


def test_json_has_every_field(httpdtrace, make_httpd):
    h = make_httpd("worker", extra=VHOSTS)
    plain = httpdtrace("requests", "-m", MODULE, "-j")
    withq = httpdtrace("requests", "-m", MODULE, "-j", "-q")
    log = send_mix(h)
    # one more, carrying a W3C traceparent header
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=10)
    c.request("GET", "/static.html?traced=1", headers={"traceparent": TRACEPARENT})
    assert c.getresponse().status == 200
    c.close()
    h.wait_access_lines(len(MIX) + 1)
    plain.stop()
    withq.stop(settle=0)
    fields = {"type", "time", "pid", "tid", "version", "size", "id", "conn_id", "bytes_in",
              "bytes_out", "start_us", "latency_us", "status", "local_port", "peer_port",
              "method", "uri", "query", "protocol", "vhost", "handler", "local_ip", "peer_ip",
              "useragent_ip", "user_agent", "trace_id", "parent_id"}
    objs = withq.json()
    assert len(objs) == len(MIX) + 1
    (traced,) = [o for o in objs if o["query"] == "traced=1"]
    objs.remove(traced)
    assert set(traced) == fields
    assert (traced["trace_id"], traced["parent_id"]) == tuple(TRACEPARENT.split("-")[1:3])
    assert all((o["trace_id"], o["parent_id"]) == ("", "") for o in objs)
    pids = set(h.children())
    by_port = {int(e["peer_port"]): e for e in log}
    for o in objs:
        assert set(o) == fields
        e = by_port[o["peer_port"]]
        assert (o["version"], o["size"]) == (2, 160)
        assert o["status"] == int(e["status"]) and 0 < o["latency_us"] <= int(e["latency_us"])
        assert (o["method"], o["uri"], o["query"]) == (e["method"], asked(e),
                                                        e["query"].lstrip("?"))
        assert (o["protocol"], o["vhost"]) == (e["protocol"], e["vhost"])
        # Two module discrepancies with %B, reported to the lead: ErrorDocument
        # responses (404 here) report the first request's bytes_sent, not the
        # redirect's; HEAD reports the length of the body it did not send.
        if o["status"] != 404 and o["method"] != "HEAD":
            assert o["bytes_out"] == (0 if e["bytes_out"] == "-" else int(e["bytes_out"]))
        assert (o["peer_ip"], o["local_ip"], o["local_port"]) == (
            e["peer_ip"], e["local_ip"], h.port)
        assert o["useragent_ip"] == o["peer_ip"]
        assert o["user_agent"].startswith("Python-urllib") or o["user_agent"] == ""
        assert o["pid"] in pids and o["tid"] > 0
        assert o["id"] > 0 and o["conn_id"] > 0 and o["start_us"] > 1.7e15
    post = [o for o in objs if o["method"] == "POST"][0]
    assert (post["bytes_in"], post["query"], post["handler"]) == (5, "token=s3cret", "lua-script")
    # Without -q the query is there but null; the rest is identical.
    assert [o["query"] for o in plain.json()] == [None] * (len(MIX) + 1)
    assert sorted(o["id"] for o in plain.json()) == sorted(o["id"] for o in objs + [traced])
    # The last line sums up, drops included.
    (s,) = withq.json("summary")
    assert s == {"type": "summary", "requests": len(MIX) + 1, "dropped": 0}


def test_pid_filter_parent_and_child(httpdtrace, make_httpd):
    """-p PARENT: every child; -p CHILD: that child only (prefork spreads
    requests over processes)."""
    h = make_httpd("prefork")
    child = h.children()[0]
    every = httpdtrace("requests", "-m", MODULE, "-j")
    parent = httpdtrace("requests", "-p", h.proc.pid, "-j")
    one = httpdtrace("requests", "-p", child, "-j")
    for i in range(40):
        send(h, "GET", "/static.html?n=%d" % i)
    h.wait_access_lines(40)
    for t in (every, parent, one):
        t.stop(settle=0.2)
        assert t.rc == 0, t.describe()
    everyj = every.json()
    assert len(everyj) == 40
    assert sorted(o["id"] for o in parent.json()) == sorted(o["id"] for o in everyj)
    mine = sorted(o["id"] for o in everyj if o["pid"] == child)
    assert sorted(o["id"] for o in one.json()) == mine
    assert all(o["pid"] == child for o in one.json())


def test_graceful_restart_keeps_tracing(httpdtrace, make_httpd):
    h = make_httpd("event")
    t = httpdtrace("requests", "-m", MODULE)
    assert send(h, "GET", "/static.html") == 200
    old = set(h.children())
    h.graceful()
    deadline = time.time() + 15
    while time.time() < deadline and not (set(h.children()) - old):
        time.sleep(0.1)
    assert set(h.children()) - old, "no new child after the graceful restart"
    time.sleep(0.5)
    assert send(h, "GET", "/dir/") == 200
    h.wait_access_lines(2)
    t.stop()
    assert [d["uri"] for d in parse_requests(t.stdout)] == ["/static.html", "/dir/"]


def test_no_drops_under_normal_load(httpdtrace, make_httpd):
    h = make_httpd("event")
    t = httpdtrace("requests", "-m", MODULE)
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=10)
    for i in range(500):
        c.request("GET", "/static.html")
        r = c.getresponse()
        r.read()
        assert r.status == 200
    c.close()
    h.wait_access_lines(500)
    t.stop()
    assert len(parse_requests(t.stdout)) == 500
    assert "dropped so far" not in t.stderr
    assert re.search(r"^httpdtrace: 500 requests, 0 dropped$", t.stderr, re.M), t.stderr


@pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is not installed")
def test_tiny_buffer_drops_are_reported(httpdtrace, make_httpd):
    """One page holds three events: under wrk most are dropped, and said so
    on stderr and in JSON; shown + dropped = requests Apache logged."""
    h = make_httpd("event")
    t = httpdtrace("requests", "-m", MODULE, "-b", "1", "-j")
    subprocess.run(["wrk", "-t1", "-c4", "-d2s", h.url("/static.html")], check=True,
                   capture_output=True, timeout=60)
    time.sleep(1)
    logged = len(h.access_entries())
    t.stop(settle=1.2)
    assert t.rc == 0, t.describe()
    (s,) = t.json("summary")
    assert s["dropped"] > 0
    assert s["requests"] == len(t.json()) and s["requests"] + s["dropped"] == logged
    assert re.search(r"^httpdtrace: warning: \d+ events dropped so far: the ring buffer "
                     r"was full \(raise -b\)$", t.stderr, re.M), t.stderr
    assert t.json("drops") and t.json("drops")[-1]["dropped"] == s["dropped"]
    assert "httpdtrace: %d requests, %d dropped" % (s["requests"], s["dropped"]) in t.stderr


def test_closed_pipe_exits_quietly(httpdtrace, make_httpd):
    """`httpdtrace requests | head -1`: once head has gone and there is more
    to write, exit 0 without a word."""
    h = make_httpd("event")
    sh = ("%s requests -m %s | head -1; echo \"rc=${PIPESTATUS[0]}\"" % (TOOL, MODULE))
    p = subprocess.Popen(["bash", "-c", sh], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        line = p.stderr.readline()
        assert line.startswith("httpdtrace: tracing 1 probe in "), line
        for _ in range(5):
            send(h, "GET", "/static.html")
            time.sleep(0.1)
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    assert out.splitlines() == [out.splitlines()[0], "rc=0"]
    assert out.startswith("TIME ")
    assert err == ""


def test_unmapped_module_warns_and_traces_later_processes(tracing, make_httpd, tmp_path):
    """A module no process maps yet: a warning, then the attach by path
    catches the Apache started afterwards; -d ends the run; -v shows
    libbpf's own messages."""
    so = str(tmp_path / "mod_dtprovider.so")
    shutil.copy(MODULE, so)
    os.chmod(str(tmp_path), 0o755)
    t = Httpdtrace("requests", "-m", so, "-d", "20s", "-v").start()
    try:
        assert ("httpdtrace: warning: no running process has %s mapped; tracing it for "
                "processes that load it later\n" % so) in t.stderr
        assert "libbpf: " in t.stderr
        h = make_httpd("event", module=so)
        assert send(h, "GET", "/static.html") == 200
        h.wait_access_lines(1)
        t.stop()
    finally:
        t.kill()
    assert t.rc == 0, t.describe()
    assert [d["uri"] for d in parse_requests(t.stdout)] == ["/static.html"]


def test_duration_ends_the_run(tracing):
    r = run("requests", "-m", MODULE, "-d", "300ms", "-j")
    assert r.returncode == 0, r.stderr
    assert r.stdout == '{"type":"summary","requests":0,"dropped":0}\n'
    assert r.stderr.endswith("httpdtrace: 0 requests, 0 dropped\n")


# ---------------------------------------------------------------------------
# Errors: one line saying what to do, non-zero exit
# ---------------------------------------------------------------------------
def one_line_error(r, pattern):
    assert r.returncode != 0
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert re.search(pattern, lines[0]), lines[0]
    assert lines[0].startswith("httpdtrace")


def test_error_module_missing(tracing):
    one_line_error(run("requests", "-m", "/nonexistent/mod_dtprovider.so"),
                   r"^httpdtrace: /nonexistent/mod_dtprovider.so: No such file or directory "
                   r"\(give the path of mod_dtprovider.so with -m\)$")


def test_error_module_without_probes(tracing):
    one_line_error(run("requests", "-m", "/bin/true"),
                   r"^httpdtrace: /usr/bin/true has no httpd probes: not mod_dtprovider.so")
    one_line_error(run("requests", "-m", "/etc/hostname"),
                   r"^httpdtrace: /etc/hostname: not an ELF file")


def test_error_no_such_pid(tracing):
    one_line_error(run("requests", "-p", "999999999"), r"^httpdtrace: no process with pid "
                   r"999999999$")
    one_line_error(run("requests", "-p", "999999999", "-m", MODULE),
                   r"^httpdtrace: no process with pid 999999999$")


def test_error_pid_without_module(tracing):
    one_line_error(run("requests", "-p", os.getpid()),
                   r"^httpdtrace: process \d+ has no mod_dtprovider.so mapped: is it an Apache")


def test_error_bad_flags(tracing):
    r = run("requests", "-z")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines()[0] == "httpdtrace requests: invalid option -- 'z'"
    for args, msg in [(["-s", "99"], "invalid status '99'"),
                      (["-l", "100"], "invalid latency '100'"),
                      (["-U", "(["], "invalid regex '(['"),
                      (["-b", "3"], "-b wants a power of 2, not 3"),
                      (["-p", "x"], "invalid pid 'x': give a whole number from 1 to "),
                      (["-b", "1048576"], "invalid page count for -b '1048576': give a whole "
                       "number from 1 to 524288"),
                      (["-l", "-3ms"], "invalid latency '-3ms': give a positive number and a "
                       "unit")]:
        r = run("requests", *args)
        assert r.returncode == 2, args
        assert r.stderr.splitlines()[0].startswith("httpdtrace requests: " + msg)
    r = run("nosuchcommand")
    assert r.returncode == 2
    assert r.stderr == ("httpdtrace: unknown command 'nosuchcommand'; 'httpdtrace --help' "
                        "lists them\n")


@pytest.mark.skipif(not shutil.which("setpriv"), reason="setpriv is not installed")
def test_error_not_root(tracing):
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "--inh-caps=-all", TOOL,
                        "requests", "-m", MODULE], capture_output=True, text=True, timeout=30)
    one_line_error(r, r"^httpdtrace: tracing needs root \(or CAP_BPF and CAP_PERFMON\): "
                      r"run it with sudo$")


def test_help_lists_commands_and_examples():
    r = run("--help")
    assert r.returncode == 0
    assert re.search(r"^  requests ", r.stdout, re.M) and re.search(r"^  list ", r.stdout, re.M)
    r = run("requests", "--help")
    assert r.returncode == 0
    assert "USAGE: httpdtrace requests" in r.stdout and "EXAMPLES:" in r.stdout
    for opt in ("-s,", "-l,", "-M,", "-H,", "-u,", "-U,", "-q,", "-j,", "-b,", "-m,", "-p,",
                "-v,"):
        assert opt in r.stdout, opt


def test_wall_clock_times(httpdtrace, make_httpd):
    """-T: each line's TIME is the wall clock (local time) when the request
    ended, to the millisecond, between the client's clock before and after."""
    h = make_httpd("event")
    t = httpdtrace("requests", "-m", MODULE, "-T")
    before = time.time()
    for _ in range(3):
        assert send(h, "GET", "/static.html") == 200
        time.sleep(0.05)
    after = time.time()
    h.wait_access_lines(3)
    t.stop()
    assert t.rc == 0, t.describe()
    rows = parse_requests(t.stdout)
    assert len(rows) == 3
    day = time.localtime(before)
    midnight = time.mktime(day[:3] + (0, 0, 0) + day[6:])
    for r in rows:
        hh, mm, ss = r["time"].split(":")
        assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}", r["time"]), r["time"]
        when = midnight + int(hh) * 3600 + int(mm) * 60 + float(ss)
        assert before - 0.002 <= when <= after + 0.002, (r["time"], before, after)
    assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)
