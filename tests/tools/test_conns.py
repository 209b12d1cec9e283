"""httpdtrace conns against a real Apache: raw-socket clients that know
exactly what they sent and received; each closed connection's line must
carry its addresses, its number of requests and those wire bytes; a
connection whose conn-start came before httpdtrace started still gets its
line, without addresses; -S sums are exact over the reports; the error
paths."""
import re
import socket
import time

import pytest

from harness import MPMS
from harness.httpd import MODULE
from harness.httpdtrace import parse_requests, run, split_addr  # noqa: F401

REQUEST = b"GET /static.html HTTP/1.1\r\nHost: test.local\r\nUser-Agent: conns-test\r\n\r\n"
CLOSE = b"GET /dir/ HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n\r\n"


class Client:
    """One TCP connection that counts every byte it sends and receives."""

    def __init__(self, h, v6=False):
        self.sock = socket.create_connection(("::1" if v6 else "127.0.0.1", h.port), timeout=10)
        self.port = self.sock.getsockname()[1]
        self.sent = self.received = 0
        self.buf = b""

    def _read_more(self):
        data = self.sock.recv(65536)
        self.received += len(data)
        self.buf += data
        return data

    def request(self, raw=REQUEST):
        """Send one request and read its whole response (Content-Length)."""
        self.sock.sendall(raw)
        self.sent += len(raw)
        while b"\r\n\r\n" not in self.buf:
            assert self._read_more(), "connection closed before a response"
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))
        while len(rest) < length:
            assert self._read_more()
            head, _, rest = self.buf.partition(b"\r\n\r\n")
        self.buf = rest[length:]
        return int(head.split()[1])

    def read_to_eof(self):
        while self._read_more():
            pass

    def close(self):
        self.sock.close()


def wait_for(pred, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def conn_lines(t):
    """Human output -> dicts (header first; every other line must parse)."""
    lines = t.stdout.splitlines()
    assert lines[0].split() == ["PEER", "LOCAL", "REQS", "DURATION", "BYTES_IN", "BYTES_OUT",
                                "END"]
    out = []
    for line in lines[1:]:
        m = re.match(r"^(\S+)\s+(\S+)\s+(\d+)\s+(\d+)us\s+(\d+)\s+(\d+) (\w+)$", line)
        assert m, line
        out.append({"peer": m.group(1), "local": m.group(2), "requests": int(m.group(3)),
                    "duration_us": int(m.group(4)), "bytes_in": int(m.group(5)),
                    "bytes_out": int(m.group(6)), "end": m.group(7)})
    return out


@pytest.mark.parametrize("mpm", MPMS)
def test_one_line_per_connection_exact(httpdtrace, make_httpd, mpm):
    h = make_httpd(mpm)
    js = httpdtrace("conns", "-m", MODULE, "-j")
    text = httpdtrace("conns", "-m", MODULE)
    reqs = httpdtrace("requests", "-m", MODULE, "-j")
    a = Client(h)                 # three keep-alive requests, then the client closes
    for _ in range(3):
        assert a.request() == 200
    b = Client(h, v6=True)        # one request, Connection: close: Apache closes
    assert b.request(CLOSE) == 200
    b.read_to_eof()
    c = Client(h)                 # connects, sends nothing, closes
    time.sleep(0.2)
    a.close()
    c.close()
    b.close()
    wait_for(lambda: len(js.json("conn")) >= 3)
    for t in (js, text, reqs):
        t.stop()
        assert t.rc == 0, t.describe()
    conns = {o["peer_port"]: o for o in js.json("conn")}
    assert set(conns) == {a.port, b.port, c.port}
    # a and c: the client closed; b: Connection: close, Apache closed
    for cl, v6, n, end in ((a, False, 3, "client"), (b, True, 1, "server"),
                           (c, False, 0, "client")):
        o = conns[cl.port]
        assert o["start_seen"] is True
        assert o["reason"] == end, o
        assert (o["peer_ip"], o["local_ip"], o["local_port"]) == (
            ("::1", "::1", h.port) if v6 else ("127.0.0.1", "127.0.0.1", h.port))
        assert (o["requests"], o["bytes_in"], o["bytes_out"]) == (n, cl.sent, cl.received)
        assert o["duration_us"] > 0 and o["conn_id"] > 0
        assert o["pid"] in h.children()
    assert a.sent == 3 * len(REQUEST) and c.sent == c.received == 0
    # The requests on each connection carry its conn id.
    by_conn = {}
    for r in reqs.json():
        by_conn.setdefault(r["conn_id"], []).append(r["peer_port"])
    assert by_conn == {conns[a.port]["conn_id"]: [a.port] * 3,
                       conns[b.port]["conn_id"]: [b.port]}
    (s,) = js.json("summary")
    assert s == {"type": "summary", "connections": 3, "dropped": 0}
    assert "httpdtrace: 3 connections, 0 dropped" in text.stderr
    # The human lines say the same.
    lines = {split_addr(d["peer"])[1]: d for d in conn_lines(text)}
    assert set(lines) == set(conns)
    for port, d in lines.items():
        o = conns[port]
        assert d["local"] == ("[::1]:%d" if port == b.port else "127.0.0.1:%d") % h.port
        assert (d["requests"], d["duration_us"], d["bytes_in"], d["bytes_out"], d["end"]) == (
            o["requests"], o["duration_us"], o["bytes_in"], o["bytes_out"], o["reason"])


def test_start_not_seen(httpdtrace, make_httpd):
    """A connection accepted before this httpdtrace started (another tracer
    had conn-done enabled): its line comes, addresses unknown."""
    h = make_httpd("event")
    first = httpdtrace("conns", "-m", MODULE, "-j")
    cl = Client(h)
    assert cl.request() == 200
    late = httpdtrace("conns", "-m", MODULE, "-j")
    text = httpdtrace("conns", "-m", MODULE)
    cl.close()
    wait_for(lambda: late.json("conn") and first.json("conn"))
    for t in (first, late, text):
        t.stop()
        assert t.rc == 0, t.describe()
    (o,) = late.json("conn")
    assert o["start_seen"] is False
    assert (o["peer_ip"], o["peer_port"], o["local_ip"], o["local_port"]) == (None,) * 4
    assert (o["requests"], o["bytes_in"], o["bytes_out"]) == (1, cl.sent, cl.received)
    assert o["reason"] == "client"
    (f,) = first.json("conn")
    assert f["start_seen"] is True and f["peer_port"] == cl.port
    assert f["conn_id"] == o["conn_id"]
    (d,) = conn_lines(text)
    assert (d["peer"], d["local"], d["requests"]) == ("-", "-", 1)


def test_summary_counts_exact(httpdtrace, make_httpd):
    """-S every 0.3 s: five connections with 1..5 requests; three close.
    Over the reports: 5 accepts, 3 closes, 6 requests, their wire bytes,
    requests per connection 1, 2, 3; open is 5, then 2."""
    h = make_httpd("event")
    t = httpdtrace("conns", "-m", MODULE, "-S", "-j", "0.3")

    def total(key):
        return sum(r[key] for r in t.json("conns"))

    clients = []
    for i in range(5):
        cl = Client(h)
        for _ in range(i + 1):
            assert cl.request() == 200
        clients.append(cl)
    wait_for(lambda: total("accepts") == 5)
    assert t.json("conns")[-1]["open"] == 5
    for cl in clients[:3]:
        cl.close()
    wait_for(lambda: total("closes") == 3)
    n = len(t.json("conns"))
    wait_for(lambda: len(t.json("conns")) > n)  # one more report
    t.stop()
    assert t.rc == 0, t.describe()
    reports = t.json("conns")
    assert [r["report"] for r in reports] == list(range(1, len(reports) + 1))
    assert reports[-1]["open"] == 2
    assert (total("accepts"), total("closes"), total("requests")) == (5, 3, 6)
    # the three closed by their client, and only those
    ends = {k: sum(r["ends"][k] for r in reports) for k in reports[0]["ends"]}
    assert ends == {"unknown": 0, "client": 3, "timeout": 0, "server": 0, "aborted": 0,
                    "shutdown": 0}
    assert total("bytes_in") == sum(cl.sent for cl in clients[:3])
    assert total("bytes_out") == sum(cl.received for cl in clients[:3])
    buckets = {}
    for r in reports:
        for b in r["requests_per_conn"]["buckets"]:
            buckets[(b["low"], b["high"])] = buckets.get((b["low"], b["high"]), 0) + b["count"]
    assert buckets == {(1, 1): 1, (2, 3): 2}
    assert max(r["requests_per_conn"]["max"] for r in reports) == 3
    for r in reports:
        assert r["seconds"] > 0
        # rate to 0.1, seconds to 0.001: within their rounding
        lo = r["accepts"] / (r["seconds"] + 0.0005) - 0.05001
        hi = r["accepts"] / (r["seconds"] - 0.0005) + 0.05001
        assert lo <= r["accepts_per_s"] <= hi, r
    for cl in clients[3:]:
        cl.close()


def test_summary_interval_count_text(httpdtrace, make_httpd):
    """`conns -S -T 0.3 2` ends by itself after two reports."""
    h = make_httpd("event")
    t = httpdtrace("conns", "-m", MODULE, "-S", "-T", "0.3", "2")
    cl = Client(h)
    assert cl.request() == 200
    cl.close()
    t.wait_exit()
    t.stop(settle=0)
    assert t.rc == 0, t.describe()
    heads = re.findall(r"^\d\d:\d\d:\d\d\.\d{3}  accepts (\d+) \([\d.]+/s\), closes (\d+), "
                       r"open (\d+), requests (\d+), bytes in (\d+) out (\d+)$", t.stdout, re.M)
    assert len(heads) == 2
    ended = re.findall(r"^  ended: (.*)$", t.stdout, re.M)
    assert ended == ["client 1"] * sum(int(x[1]) for x in heads), t.stdout


@pytest.mark.parametrize("args, msg", [
    (["1"], "[interval] [count] go with -S"),
    (["-S", "0"], "invalid interval '0'"),
    (["-S", "1", "x"], "invalid count 'x'"),
    (["-S", "1", "2", "3"], "unexpected argument '3'"),
    (["-s", "404"], "invalid option -- 's'"),
])
def test_error_bad_arguments(args, msg):
    r = run("conns", *args)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines()[0].startswith("httpdtrace conns: " + msg), r.stderr


def test_error_no_such_pid(tracing):
    r = run("conns", "-p", "999999999", "-m", MODULE)
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "httpdtrace: no process with pid "
                                                        "999999999\n")


def test_help():
    r = run("conns", "--help")
    assert r.returncode == 0
    assert "USAGE: httpdtrace conns" in r.stdout and "EXAMPLES:" in r.stdout
    for opt in ("-S,", "-j,", "-T,", "-b,", "-m,", "-p,", "-v,"):
        assert opt in r.stdout, opt
    assert re.search(r"^  conns ", run("--help").stdout, re.M)


def test_pid_filter(httpdtrace, make_httpd):
    """-p CHILD: the connections that prefork child served, no other."""
    h = make_httpd("prefork")
    child = h.children()[0]
    one = httpdtrace("conns", "-m", MODULE, "-j", "-p", child)
    every = httpdtrace("conns", "-m", MODULE, "-j")
    clients = []
    for _ in range(12):
        cl = Client(h)
        assert cl.request(CLOSE) == 200
        cl.read_to_eof()
        cl.close()
        clients.append(cl)
    wait_for(lambda: len(every.json("conn")) >= 12)
    for t in (one, every):
        t.stop()
        assert t.rc == 0, t.describe()
    alls = every.json("conn")
    assert sorted(o["peer_port"] for o in alls) == sorted(cl.port for cl in clients)
    assert sorted(o["conn_id"] for o in one.json("conn")) == sorted(
        o["conn_id"] for o in alls if o["pid"] == child)
