"""The traced run the tests of tests/probes/ share: mod_dtprovider on a real
Apache under each MPM, traced by a real tracer, recorded once.

record(mpm) makes one run: Apache starts and serves untraced traffic (the
idle path); bpftrace attaches by the module's path; real clients (raw
sockets where exact bytes matter, curl, nghttp) each play one scenario on a
connection of their own; the semaphores are read in every process; bpftrace
detaches and they are read again; Apache stops. tests/probes/conftest.py
records it once per MPM for the whole session (its `run` fixture), and each
probe's file checks what the run recorded, one topic each
(test_request_start.py, test_request_done.py, test_conn_start.py,
test_conn_done.py, test_semaphores.py, test_provider.py), so a failure names
its probe, scenario and MPM while all of them cost one Apache and one attach
per MPM.

A scenario is a function sc_NAME(h) below: it makes its client's requests
and states in a Scenario what the probes must say about them. NAMES lists
them for the tests' parametrize; scenario(), scenario_conn() and
scenario_dones() find a scenario's results in a Run.

No timing is asserted except what must hold however slow the machine is: a
request's probe time lies inside the window its client measured.
"""
import json
import os
import re
import socket
import subprocess
import threading
import time
import traceback

import pytest

from harness import semaphores
from harness.httpd import MODULE, Httpd
from harness.tracer import Bpftrace

VHOST = "test.local"
STATIC = 406                                # bytes of static.html
NOT_FOUND_DOC = len("custom not found\n")   # /404.html, the ErrorDocument
LUA_ERROR_DOC = "lua error document\n"
LUA_INDEX = "lua index\n"
FORWARDED = "203.0.113.7"
POST_BODY = b"p" * 1000

# What the scenarios need beyond the fixture's config: Apache accepting a
# connection before its first byte (Linux's default AcceptFilter is
# TCP_DEFER_ACCEPT, which keeps a silent client in the kernel for ~30 s), a
# short Timeout (the timeout-408 scenario ends after Timeout plus
# RequestReadTimeout's header=2), mod_remoteip trusting the loopback, a plain
# 404, and a DirectoryIndex and an ErrorDocument whose final request has a
# handler of its own.
EXTRA = """
AcceptFilter http none
Timeout 3
RemoteIPHeader X-Forwarded-For
RemoteIPInternalProxy 127.0.0.1
<Location /plain/>
  ErrorDocument 404 default
</Location>
<Location /app/>
  DirectoryIndex index.lua
</Location>
<Location /lerr/>
  ErrorDocument 404 /err.lua
</Location>
"""


def lua_page(text):
    return ("function handle(r)\n"
            "  r.content_type = 'text/plain'\n"
            "  r:puts(%r)\n"
            "  return apache2.OK\n"
            "end\n" % text)


def write_extra_docs(h):
    os.makedirs(os.path.join(h.docroot, "app"), exist_ok=True)
    for path, text in (("app/index.lua", lua_page(LUA_INDEX)),
                       ("err.lua", lua_page(LUA_ERROR_DOC))):
        with open(os.path.join(h.docroot, path), "w") as f:
            f.write(text)
        os.chmod(os.path.join(h.docroot, path), 0o644)
    os.chmod(os.path.join(h.docroot, "app"), 0o755)


# ---------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------

class Scenario:
    """One client connection and what the probes must say about it.

    `expect` lists the request-done's the connection must produce, each a
    dict of exact field values (plus "start": whether a request-start
    applies). `port` is the client's port (None for nghttp, which does not
    tell), `sent`/`received` the exact wire bytes as the client counted
    them, and [t0, t1] the client's window: from before it connected to
    after the server was done with it (EOF, or the access-log line for
    clients that cannot see the server finish)."""

    def __init__(self, name, v6=False):
        self.name = name
        self.ip = "::1" if v6 else "127.0.0.1"
        self.port = None
        self.sent = self.received = None
        self.wire_in = None     # conn-done's bytes_in when not all of `sent`
        self.saw_close = False  # t1 is after the server closed the connection
        self.unread_out = 0     # bytes the server wrote after the client left
        self.t0 = self.t1 = None
        self.expect = []

    def request(self, uri, status, bytes_out, **kw):
        exp = dict(status=status, method="GET", uri=uri, query="", bytes_in=0,
                   bytes_out=bytes_out, protocol="HTTP/1.1", vhost=VHOST, handler="",
                   peer_ip=self.ip, local_ip=self.ip, useragent_ip=self.ip, user_agent="",
                   trace_id="", parent_id="", start=True)
        exp.update(kw)
        self.expect.append(exp)


def read_response(sock, buf):
    """One HTTP/1.x response from sock (buf: bytes already read). Returns
    (status, body, rest). Without Content-Length the body runs to EOF."""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        assert data, "EOF inside a response header: %r" % buf
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = None
    for line in lines[1:]:
        k, v = line.split(":", 1)
        if k.lower() == "content-length":
            length = int(v)
    while length is None or len(rest) < length:
        data = sock.recv(65536)
        if not data:
            assert length is None, "EOF inside a response body"
            break
        rest += data
    if length is None:
        return status, rest, b""
    return status, rest[:length], rest[length:]


class RawConn:
    """A scenario's socket: counts every byte it sends and receives, and
    opens and ends the scenario's window."""

    def __init__(self, sc, port):
        fam = socket.AF_INET6 if sc.ip == "::1" else socket.AF_INET
        self.sc = sc
        sc.t0 = time.time()
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect((sc.ip, port))
        sc.port = self.sock.getsockname()[1]
        self.sent = self.received = 0

    def finish(self):
        """Half-close and read to EOF: the server has then logged and closed,
        so the window [t0, t1] covers the whole connection."""
        self.sock.shutdown(socket.SHUT_WR)
        while self.recv(65536):
            pass
        self.sc.t1 = time.time()
        self.sc.saw_close = True
        self.sock.close()
        self.sc.sent, self.sc.received = self.sent, self.received

    def sendall(self, data):
        self.sock.sendall(data)
        self.sent += len(data)

    def recv(self, n):
        data = self.sock.recv(n)
        self.received += len(data)
        return data


def exchange(h, sc, requests):
    """Send each request in turn on one connection, reading its response
    before sending the next, then finish. Records the exact wire bytes both
    ways; returns [(status, body)]."""
    conn = RawConn(sc, h.port)
    out, buf = [], b""
    for req in requests:
        conn.sendall(req)
        status, body, buf = read_response(conn, buf)
        out.append((status, body))
    conn.finish()
    assert buf == b"", "bytes after the last response: %r" % buf
    return out


def get(path, proto="HTTP/1.1", headers=""):
    return ("GET %s %s\r\nHost: %s\r\n%s\r\n" % (path, proto, VHOST, headers)).encode()


def wait_log(h, pred, timeout=20):
    """The first access-log entry for which pred holds, waiting for it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for e in h.access_entries():
            if pred(e):
                return e
        time.sleep(0.05)
    raise AssertionError("no access-log line came")


def curl(h, sc, path, args=(), data=None):
    """curl one request; records its port. [t0, t1] ends when the access log
    has the request's line: curl may exit before Apache logs (the event MPM
    logs after the response is written), and the probe fires before
    mod_log_config writes the line (log_transaction, REALLY_FIRST). Wire
    bytes from curl's counters: sent = %{size_request} (head and body),
    received = response head + body. Returns (status, body)."""
    sc.t0 = time.time()
    out = subprocess.run(["curl", "-s", "-D", "/dev/null", "-w",
                          "\n%{local_port} %{http_code} %{size_request} %{size_header} "
                          "%{size_download}"]
                         + list(args) + [h.url(path, v6=sc.ip == "::1")],
                         input=data, capture_output=True, timeout=30)
    body, tail = out.stdout.rsplit(b"\n", 1)
    port, code, sent, head, down = (int(x) for x in tail.split())
    sc.port, sc.sent, sc.received = port, sent, head + down
    wait_log(h, lambda e: e["request_line"].split(" ")[1] == path and e["status"] == str(code))
    sc.t1 = time.time()
    return code, body


# ---------------------------------------------------------------------------
# The scenarios: each makes its client's requests and states what must be seen
# ---------------------------------------------------------------------------

def single(h, name, path, status, size, proto="HTTP/1.1", v6=False, **kw):
    """One request on its own raw connection; the client must get `status`
    and a body of `size` bytes, and the probes must say so."""
    sc = Scenario(name, v6)
    (st, body), = exchange(h, sc, [get(path, proto)])
    assert (st, len(body)) == (status, size), body
    uri, _, query = path.partition("?")
    sc.request(uri, status, size, query=query, protocol=proto, **kw)
    return sc


def sc_static(h):
    return single(h, "static_200", "/static.html", 200, STATIC)


def sc_not_found(h):
    """A plain 404 (ErrorDocument default): Apache's own 236-byte page."""
    return single(h, "not_found_404", "/plain/nope", 404, 236)


def sc_error_document(h):
    """ErrorDocument 404 /404.html: an internal redirect. The final status is
    the 404 the client got, the uri what it asked, the bytes the error
    document's."""
    return single(h, "error_document", "/nope.html", 404, NOT_FOUND_DOC)


def sc_error_document_lua(h):
    """An ErrorDocument served by a Lua handler: request-done reports the
    handler of the final request of the redirect chain (HTTP/1.0, so the body
    is not chunked and ends at EOF)."""
    return single(h, "error_document_lua", "/lerr/missing", 404, len(LUA_ERROR_DOC),
                  "HTTP/1.0", handler="lua-script")


def sc_dir_index(h):
    """DirectoryIndex: mod_dir serves /dir/index.html in place of /dir/; the
    uri stays /dir/ (the access log's %U says /dir/index.html)."""
    return single(h, "directory_index", "/dir/", 200, len(b"dir index\n"))


def sc_dir_index_lua(h):
    """DirectoryIndex index.lua: the handler is the index's."""
    return single(h, "directory_index_lua", "/app/", 200, len(LUA_INDEX), "HTTP/1.0",
                  handler="lua-script")


def sc_head(h):
    """HEAD: no body is sent, so bytes_out is 0 (as %B logs it) although
    Apache computed the static file's length."""
    sc = Scenario("head")
    conn = RawConn(sc, h.port)
    conn.sendall(b"HEAD /static.html HTTP/1.1\r\nHost: %s\r\n\r\n" % VHOST.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += conn.recv(65536)
    conn.finish()
    assert head.startswith(b"HTTP/1.1 200 ") and head.endswith(b"\r\n\r\n")
    sc.request("/static.html", 200, 0, method="HEAD")
    return sc


def sc_keepalive(h):
    sc = Scenario("keepalive")
    reqs = [get("/static.html"), get("/static.html?n=2"), get("/dir/")]
    got = exchange(h, sc, reqs)
    assert [g[0] for g in got] == [200, 200, 200]
    sc.request("/static.html", 200, STATIC)
    sc.request("/static.html", 200, STATIC, query="n=2")
    sc.request("/dir/", 200, len(b"dir index\n"))
    return sc


def sc_pipelined(h):
    """Three requests in one write (HTTP/1.1 pipelining): Apache reads ahead
    and peeks for the next request between them; the wire bytes still count
    each byte once."""
    sc = Scenario("pipelined")
    conn = RawConn(sc, h.port)
    conn.sendall(get("/static.html?p=1") + get("/static.html?p=2") + get("/nope.html?p=3"))
    got, buf = [], b""
    for _ in range(3):
        status, body, buf = read_response(conn, buf)
        got.append((status, len(body)))
    conn.finish()
    assert got == [(200, STATIC), (200, STATIC), (404, NOT_FOUND_DOC)] and buf == b""
    sc.request("/static.html", 200, STATIC, query="p=1")
    sc.request("/static.html", 200, STATIC, query="p=2")
    sc.request("/nope.html", 404, NOT_FOUND_DOC, query="p=3")
    return sc


def sc_query(h):
    """The query string goes to `query`, never into `uri`."""
    return single(h, "query_string", "/static.html?a=1&b=two", 200, STATIC)


def sc_ipv6(h):
    return single(h, "ipv6", "/static.html?v=6", 200, STATIC, v6=True)


def sc_bad_request(h):
    """A malformed request line (a control character in the uri): 400 before
    post_read_request, so no start. Method, uri and protocol are what Apache
    parsed (as %m, %U and %H log them). Apache refuses the request at its
    first line: the header lines stay unread, so the connection's bytes_in
    is the request line's length."""
    sc = Scenario("bad_request_400")
    line = b"GET /bad\x01path HTTP/1.1\r\n"
    (st, body), = exchange(h, sc, [line + b"Host: x\r\n\r\n"])
    assert st == 400
    sc.wire_in = len(line)
    sc.request("/bad\x01path", 400, len(body), start=False)
    return sc


def sc_uri_too_long(h):
    """LimitRequestLine 1024: a 2000-byte uri gets 414, no start."""
    sc = Scenario("uri_too_long_414")
    (st, body), = exchange(h, sc, [get("/" + "a" * 2000)])
    assert st == 414
    sc.wire_in = len("GET /%s HTTP/1.1\r\n" % ("a" * 2000))    # as for the 400
    sc.request("", 414, len(body), method="", protocol="HTTP/1.0", start=False)
    return sc


def sc_timeout(h):
    """A client that connects and sends nothing: after 5 s (Timeout 3 plus
    header=2) Apache logs a 408, sends nothing and closes. The client waits
    for the 408 in the access log, then closes too."""
    sc = Scenario("timeout_408")
    conn = RawConn(sc, h.port)
    wait_log(h, lambda e: e["peer_port"] == str(sc.port) and e["status"] == "408")
    conn.finish()
    assert (sc.sent, sc.received) == (0, 0)
    sc.request("", 408, 0, method="", protocol="HTTP/1.0", start=False)
    return sc


def sc_post(h):
    """A POST with a 1000-byte body to a Lua handler that reads it."""
    sc = Scenario("post_body")
    st, body = curl(h, sc, "/post.lua", ["--data-binary", "@-", "-A", "dtp-post/1.0"],
                    data=POST_BODY)
    assert (st, body) == (200, b"got %d\n" % len(POST_BODY))
    sc.request("/post.lua", 200, len(body), method="POST", bytes_in=len(POST_BODY),
               handler="lua-script", user_agent="dtp-post/1.0")
    return sc


def sc_remoteip(h):
    """mod_remoteip: useragent_ip (and request-start's client ip) is the
    forwarded address, peer_ip stays the connection's; the User-Agent header
    is passed as sent."""
    sc = Scenario("remoteip_user_agent")
    st, body = curl(h, sc, "/static.html", ["-H", "X-Forwarded-For: " + FORWARDED,
                                            "-A", "dtp-test/1.0 (remoteip)"])
    assert (st, len(body)) == (200, STATIC)
    sc.request("/static.html", 200, STATIC, useragent_ip=FORWARDED,
               user_agent="dtp-test/1.0 (remoteip)")
    return sc


TRACE_ID, PARENT_ID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"


def sc_traceparent(h):
    """W3C traceparent: a valid header's ids in the info struct (version 2);
    an invalid one (uppercase hex, version ff, two headers that Apache joins
    with ", ") gives "", as the recommendation says; a later version may
    carry more after its flags."""
    sc = Scenario("traceparent")
    tp = "00-%s-%s-01" % (TRACE_ID, PARENT_ID)
    headers = ["traceparent: %s\r\n" % tp,
               "traceparent: %s\r\n" % tp.upper(),
               "traceparent: ff%s\r\n" % tp[2:],
               "traceparent: %s\r\ntraceparent: %s\r\n" % (tp, tp),
               "Traceparent: 7f%s-more-to-come\r\n" % tp[2:]]
    got = exchange(h, sc, [get("/static.html?tp=%d" % n, headers=hd)
                           for n, hd in enumerate(headers)])
    assert [g[0] for g in got] == [200] * len(headers)
    for n in range(len(headers)):
        ids = dict(trace_id=TRACE_ID, parent_id=PARENT_ID) if n in (0, 4) else {}
        sc.request("/static.html", 200, STATIC, query="tp=%d" % n, **ids)
    return sc


H2_PATHS = ["/static.html?h2=1", "/static.html?h2=2", "/nope.html?h2=3", "/dir/?h2=4"]


def nghttp_version():
    out = subprocess.run(["nghttp", "--version"], capture_output=True, text=True).stdout
    return out.split()[-1]      # "nghttp nghttp2/1.52.0" -> "nghttp2/1.52.0"


def sc_h2(h):
    """HTTP/2 with prior knowledge (h2c), several streams on one connection:
    nghttp -n with several URIs of one authority opens a single connection
    (under prefork too, see test_h2_streams_process).

    Wire bytes from nghttp -v's frame log: the client sent the 24-byte
    preface and a 9-byte header plus `length` per frame; it received the
    frames it logs. The server's closing GOAWAY (9 + 8 bytes) comes after
    nghttp stopped reading unless nghttp logged it."""
    sc = Scenario("h2c_streams")
    sc.t0 = time.time()
    out = subprocess.run(["nghttp", "-nv"] + [h.url(p) for p in H2_PATHS],
                         capture_output=True, text=True, timeout=30)
    for p in H2_PATHS:
        wait_log(h, lambda e: e["request_line"] == "GET %s HTTP/2.0" % p)
    sc.t1 = time.time()
    ua = nghttp_version()
    assert out.returncode == 0, out.stderr
    frames = lambda way: [int(n) for n in re.findall(  # noqa: E731
        r"\] %s \w+ frame <length=(\d+)," % way, out.stdout)]
    sc.sent = 24 + sum(9 + n for n in frames("send"))
    sc.received = sum(9 + n for n in frames("recv"))
    sc.unread_out = 0 if re.search(r"\] recv GOAWAY frame", out.stdout) else 9 + 8
    sc.request("/static.html", 200, STATIC, query="h2=1", protocol="HTTP/2.0", user_agent=ua)
    sc.request("/static.html", 200, STATIC, query="h2=2", protocol="HTTP/2.0", user_agent=ua)
    sc.request("/nope.html", 404, NOT_FOUND_DOC, query="h2=3", protocol="HTTP/2.0",
               user_agent=ua)
    sc.request("/dir/", 200, len(b"dir index\n"), query="h2=4", protocol="HTTP/2.0",
               user_agent=ua)
    return sc


SCENARIOS = [sc_static, sc_not_found, sc_error_document, sc_error_document_lua,
             sc_dir_index, sc_dir_index_lua, sc_keepalive, sc_query, sc_ipv6,
             sc_bad_request, sc_uri_too_long, sc_post, sc_remoteip, sc_head,
             sc_pipelined, sc_traceparent]
NAMES = [f.__name__ for f in SCENARIOS] + ["sc_timeout", "sc_h2"]


# ---------------------------------------------------------------------------
# The traced run, once per MPM
# ---------------------------------------------------------------------------

class Run:
    """What one MPM's traced run recorded; `dump` writes it as run.json in
    the server root for whoever reads a failure."""

    def __init__(self, h, mpm):
        self.h, self.mpm = h, mpm
        self.scenarios, self.errors = {}, {}    # by scenario function name
        self.idle = None        # access-log lines of the untraced traffic
        self.sems = {}          # phase -> {pid: {probe: value}}
        self.events = None
        self.log = []           # access-log lines written while traced
        self.tracer_output = ""
        self.error_log = ""     # Apache's error log when the run ended

    def dump(self, path):
        ev = self.events
        with open(path, "w") as f:
            json.dump({"scenarios": {n: vars(sc) for n, sc in self.scenarios.items()},
                       "errors": self.errors, "log": self.log, "sems": self.sems,
                       "tracer_output": self.tracer_output,
                       "events": {k: getattr(ev, k) for k in
                                  ("starts", "dones", "conn_starts", "conn_dones")}},
                      f, indent=1, default=str)

    def play(self, fn, *args):
        try:
            self.scenarios[fn.__name__] = fn(self.h, *args)
        except Exception:       # reported by that scenario's test
            self.errors[fn.__name__] = traceback.format_exc()


def all_semaphores(h):
    """{pid: {probe: value}} for the parent and every child."""
    return {pid: semaphores.values(pid, MODULE) for pid in h.pids()}


IDLE_PATHS = ["/static.html", "/nope.html", "/dir/", "/static.html?idle=1"]


def idle_traffic(h):
    """Untraced traffic: one curl keep-alive connection with several
    requests, and an HTTP/2 one. Returns their access-log lines."""
    subprocess.run(["curl", "-s", "-o", "/dev/null"] + [h.url(p) for p in IDLE_PATHS],
                   check=True, timeout=30)
    subprocess.run(["nghttp", "-n"] + [h.url(p) for p in IDLE_PATHS], timeout=30)
    return h.wait_access_lines(2 * len(IDLE_PATHS))


def record(mpm, tmp_path_factory):
    """One traced run under `mpm` (see the top of this file), its server
    root made by tmp_path_factory. Returns the Run; the Apache is stopped
    by then, so nothing of it outlives the recording."""
    base = tmp_path_factory.getbasetemp()
    for d in (base.parent, base):
        os.chmod(str(d), 0o755)
    root = tmp_path_factory.mktemp("provider-" + mpm)
    os.chmod(str(root), 0o755)
    h = Httpd(root, mpm=mpm, extra=EXTRA)
    try:
        h.start()
        write_extra_docs(h)
        r = Run(h, mpm)
        r.idle = idle_traffic(h)
        r.sems["before"] = all_semaphores(h)
        t = Bpftrace()
        t.start()
        try:
            n0 = len(h.access_entries())
            slow = threading.Thread(target=r.play, args=(sc_timeout,))
            slow.start()
            for fn in SCENARIOS:
                r.play(fn)
            r.play(sc_h2)
            slow.join(60)
            r.sems["attached"] = all_semaphores(h)
        finally:
            r.events = t.stop()
        r.sems["detached"] = all_semaphores(h)
        r.log = h.access_entries()[n0:]
        r.tracer_output = t.raw() + "".join(t.err)
        r.error_log = h.read_error_log()
        r.dump(os.path.join(h.root, "run.json"))
        return r
    finally:
        h.stop()


# ---------------------------------------------------------------------------
# Finding a scenario's results
# ---------------------------------------------------------------------------

def scenario(run, name):
    if name in run.errors:
        pytest.fail("the client failed:\n" + run.errors[name], pytrace=False)
    return run.scenarios[name]


def scenario_conn(run, sc):
    """The id of the scenario's client connection, found by its address and
    port (conn-start's), or for HTTP/2 (nghttp does not tell its port) by the
    conn_id its streams carry."""
    ev = run.events
    if sc.port is not None:
        ids = [i for i, c in ev.conn_starts.items()
               if (c["peer_ip"], c["peer_port"]) == (sc.ip, sc.port)]
    else:
        queries = {e["query"] for e in sc.expect}
        ids = sorted({d["conn_id"] for d in ev.dones.values() if d["query"] in queries})
    assert len(ids) == 1, "%s: connections %s" % (sc.name, ids)
    return ids[0]




def scenario_dones(run, sc, cid):
    """[(request-done, expected)] for the scenario's connection `cid`, the
    request-done's paired with the scenario's expectations by uri, query and
    status; asserts there is one of each."""
    ev = run.events
    order = lambda x: (x["uri"], x["query"], x["status"])  # noqa: E731
    dones = sorted((d for d in ev.dones.values() if d["conn_id"] == cid), key=order)
    expect = sorted(sc.expect, key=order)
    assert [order(d) for d in dones] == [order(e) for e in expect]
    return list(zip(dones, expect))
