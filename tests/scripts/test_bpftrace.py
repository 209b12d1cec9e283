"""The bpftrace scripts of scripts/bpftrace/, run as an operator runs them
(`bpftrace SCRIPT MODULE [args]`) against a real Apache with known traffic,
their output asserted line by line; and the one-liners of the docs, each run
for real."""
import os
import re
import socket

import pytest

from harness import handlers
from harness.httpd import MODULE, REPO
from harness.phase_trace import EXTRA, curl
from harness.tracer import Bpftrace

SCRIPTS = os.path.join(REPO, "scripts", "bpftrace")
DOCS = [os.path.join(REPO, "docs", "probes.md"), os.path.join(REPO, "README.md")]
INSTALLED_MODULE = "/usr/lib/apache2/modules/mod_dtprovider.so"
# bpftrace's stderr noise on this kernel (see the field notes): memlock
# cannot be raised, tracefs is not mounted so detaching complains.
HARMLESS = re.compile(r"RLIMIT_MEMLOCK|failed to detach probe|uprobe_events")


# ---------------------------------------------------------------------------
# Clients with exactly known wire bytes
# ---------------------------------------------------------------------------
def exchange(port, requests, v6=False):
    """Send `requests` (request texts; the last should close the connection)
    on one connection, pipelined, and read until the server closes. Returns
    the client's (ip, port) and the bytes sent and received."""
    family, host = (socket.AF_INET6, "::1") if v6 else (socket.AF_INET, "127.0.0.1")
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect((host, port))
    peer = s.getsockname()[:2]
    data = "".join(requests).encode()
    s.sendall(data)
    got = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    return peer, len(data), len(got)


def get(uri, close=True):
    return "GET %s HTTP/1.1\r\nHost: test.local\r\n%s\r\n" % (
        uri, "Connection: close\r\n" if close else "")


def post(uri, body):
    return ("POST %s HTTP/1.1\r\nHost: test.local\r\nContent-Length: %d\r\n"
            "Connection: close\r\n\r\n%s" % (uri, len(body), body))


def addr(ip, port):
    """An address as the scripts print it: netstat's ip:port, no brackets
    for IPv6 either, so the columns line up."""
    return "%s:%d" % (ip, port)


def run_script(bpftrace, name, *args):
    """bpftrace scripts/bpftrace/NAME MODULE ARGS..., with the default
    BPFTRACE_STRLEN an operator has."""
    return bpftrace(argv=[os.path.join(SCRIPTS, name), MODULE] + list(args),
                    env={"BPFTRACE_STRLEN": "64"})


# The mixed traffic: (requests on one connection, v6, expected per request
# (status, method, uri)).
TRAFFIC = [
    ([get("/static.html?a=1")], False, [(200, "GET", "/static.html")]),
    ([get("/missing")], False, [(404, "GET", "/missing")]),
    ([post("/post.lua", "hello world")], False, [(200, "POST", "/post.lua")]),
    ([get("/dir")], False, [(301, "GET", "/dir")]),
    # The uri as the client sent it: not decoded, as request-start saw it.
    ([get("/static%2Ehtml")], False, [(200, "GET", "/static%2Ehtml")]),
    ([get("/static.html")], True, [(200, "GET", "/static.html")]),
    ([get("/", close=False), get("/static.html", close=False), get("/nope")], False,
     [(200, "GET", "/"), (200, "GET", "/static.html"), (404, "GET", "/nope")]),
]


def drive(h):
    """Send TRAFFIC; return per connection (peer, sent, received, expected)."""
    out = []
    for reqs, v6, expect in TRAFFIC:
        peer, sent, received = exchange(h.port, reqs, v6)
        out.append((peer, sent, received, expect))
    h.wait_access_lines(sum(len(t[2]) for t in TRAFFIC))
    return out


def output_lines(t):
    """bpftrace's stdout without its "Attaching" line and blank lines."""
    return [l for l in t.raw().splitlines() if l and not l.startswith("Attaching")]


# ---------------------------------------------------------------------------
# requests.bt
# ---------------------------------------------------------------------------
REQ_LINE = re.compile(r"^ *(\d+)\.(\d{3}) +(\d+) (\d{3}) +(\S+) +(\S+) (\S+) +(\S+)$")


def test_http_requests(bpftrace, make_httpd):
    h = make_httpd("event")
    t = run_script(bpftrace, "requests.bt")
    conns = drive(h)
    t.stop()
    lines = output_lines(t)
    assert lines[0] == ("  TIME(s)   LAT(us) STS                 LOCAL"
                        "                REMOTE METHOD URI")
    got = []
    for line in lines[1:]:
        m = REQ_LINE.match(line)
        assert m, "unexpected line %r" % line
        assert int(m.group(3)) > 0
        got.append((int(m.group(4)), m.group(5), m.group(6), m.group(7), m.group(8)))
    want = []
    for (ip, port), _, _, expect in conns:
        local = addr(ip, h.port)
        for status, method, uri in expect:
            want.append((status, local, addr(ip, port), method, uri))
    assert sorted(got) == sorted(want)
    # Fixed width, IPv4 and IPv6 alike: every column starts where the
    # header's does.
    assert any("::1:" in l for l in lines[1:])
    assert all(l[67] == " " and l[68:75].rstrip() in ("GET", "POST") for l in lines[1:])


# ---------------------------------------------------------------------------
# latency.bt
# ---------------------------------------------------------------------------
BUCKET = re.compile(r"^\[([^\]]+)[\])] +(\d+) \|[@ ]*\|$")


def histograms(lines):
    """{map name: total count} of the histograms bpftrace printed, and the
    scalar @requests."""
    hists, name, requests = {}, None, None
    for line in lines:
        m = BUCKET.match(line)
        if m:
            hists[name] += int(m.group(2))
        elif line.startswith("@requests: "):
            requests = int(line.split()[1])
        elif line.startswith("@") and line.rstrip().endswith(":"):
            name = line.rstrip()[:-1]
            hists[name] = 0
    return hists, requests


def test_request_latency(bpftrace, make_httpd):
    h = make_httpd("event")
    t = run_script(bpftrace, "latency.bt")
    n = sum(len(c[3]) for c in drive(h))
    t.stop()
    lines = output_lines(t)
    assert lines[0] == "Tracing request latency (us)... Hit Ctrl-C to end."
    assert histograms(lines[1:]) == ({"@latency_us": n}, n)


def test_request_latency_by_status(bpftrace, make_httpd):
    h = make_httpd("event")
    t = run_script(bpftrace, "latency.bt", "status")
    conns = drive(h)
    t.stop()
    want = {}
    for _, _, _, expect in conns:
        for status, _, _ in expect:
            key = "@latency_us_by_status[%d]" % status
            want[key] = want.get(key, 0) + 1
    assert want == {"@latency_us_by_status[200]": 6, "@latency_us_by_status[404]": 2,
                    "@latency_us_by_status[301]": 1}
    assert histograms(output_lines(t)[1:]) == (want, 9)


# ---------------------------------------------------------------------------
# conns.bt
# ---------------------------------------------------------------------------
CONN_LINE = re.compile(r"^ *(\d+)\.(\d{3}) +(\S+) +(\S+) +(\d+) +(\d+) +(\d+) +(\d+) (\w+)$")


def test_connections(bpftrace, make_httpd):
    h = make_httpd("event")
    t = run_script(bpftrace, "conns.bt")
    conns = drive(h)
    t.stop()
    lines = output_lines(t)
    assert lines[0] == ("  TIME(s)                REMOTE                 LOCAL"
                        " REQS    DUR(us)       IN      OUT END")
    got = []
    for line in lines[1:]:
        m = CONN_LINE.match(line)
        assert m, "unexpected line %r" % line
        assert int(m.group(6)) > 0
        got.append((m.group(3), m.group(4), int(m.group(5)), int(m.group(7)),
                    int(m.group(8)), m.group(9)))
    # Each connection's last request said Connection: close: Apache closed it.
    want = [(addr(ip, port), addr(ip, h.port), len(expect), sent, received, "server")
            for (ip, port), sent, received, expect in conns]
    assert sorted(got) == sorted(want)
    # IPv4 and IPv6 rows alike line up under the header.
    assert any("::1:" in l for l in lines[1:])
    assert all(l[53] == " " and l[54:58].strip().isdigit() for l in lines[1:])


# ---------------------------------------------------------------------------
# The one-liners of docs/probes.md and README.md
# ---------------------------------------------------------------------------
def one_liners():
    """Every `bpftrace -e '...'` line of the docs (a one-liner a reader may
    paste), as (file, program)."""
    out = []
    for path in DOCS:
        with open(path) as f:
            for line in f:
                m = re.match(r"^\s*(?:# )?bpftrace -e '(.*)'\s*$", line)
                if m:
                    out.append((os.path.basename(path), m.group(1)))
    return out


def test_docs_have_one_liners():
    assert len([1 for f, _ in one_liners() if f == "probes.md"]) >= 6
    assert len([1 for f, _ in one_liners() if f == "README.md"]) >= 2


@pytest.mark.parametrize("doc,program", one_liners())
def test_one_liner(bpftrace, make_httpd, doc, program):
    """Runs against the build's module in place of the installed path and
    must print something for the mixed traffic, and nothing on stderr but
    bpftrace's harmless detach and memlock noise."""
    assert INSTALLED_MODULE in program
    h = make_httpd("event")
    t = bpftrace(argv=["-e", program.replace(INSTALLED_MODULE, MODULE)],
                 env={"BPFTRACE_STRLEN": "64"})
    drive(h)
    t.stop()                # exit status 0, or the test fails with its stderr
    errors = [l for l in t.err if l.strip() and not HARMLESS.search(l)]
    assert not errors, t.describe()
    assert output_lines(t), "no output from %s: %s; %s" % (doc, program, t.describe())


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
