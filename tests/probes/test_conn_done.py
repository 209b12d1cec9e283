"""httpd:::conn-done on a real Apache under each MPM.

Every argument, for each scenario of the traced run every probe file shares
(harness/traced_run.py, recorded once per MPM): the connection's number of
requests, its wire bytes both ways exactly as the client counted them, and
a duration inside the client's window.

Every conn-start has its conn-done, with the reason the connection ended.

Under keep-alive load (wrk) with idle keep-alive connections held open, the
server is stopped, gracefully restarted, gracefully stopped or restarted,
under each MPM. A bpftrace program prints one line per conn-start and per
conn-done; when everything is over, every connection id that started has
exactly one conn-done. The idle connections the test held tell the reason:
a server that stops or restarts ends them with reason 5 (shutdown) whether
the child closes them or exits with them open (the event MPM never closes
those on a stop: the module fires their conn-done as the child exits); a
worker or prefork child that drains gracefully lets them time out (2). The single-cause reasons are checked one by one under each
MPM: the client closing (1), a keep-alive timeout (2), the server closing
after Connection: close (3).
"""
import http.client
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from harness import MPMS
from harness.traced_run import NAMES, scenario, scenario_conn

SCRIPT = """
usdt:@SO@:httpd:conn__start { printf("S %llu %d %d\\n", arg0, arg2, pid); }
usdt:@SO@:httpd:conn__done { printf("D %llu %d %u\\n", arg0, arg5, arg1); }
"""
CLIENT, TIMEOUT, SERVER, ABORTED, SHUTDOWN = 1, 2, 3, 4, 5
REQUEST = b"GET /static.html HTTP/1.1\r\nHost: test.local\r\n\r\n"
HELD = 3
# Keep-alive timeout short enough to wait for; graceful-stop bounded.
EXTRA = "KeepAliveTimeout 2\nGracefulShutdownTimeout 10\n"
# mod_status's scoreboard tells when the held connections' threads wait for
# their next request (K): only then is their reason the drain's to give.
STATUS = ("LoadModule status_module /usr/lib/apache2/modules/mod_status.so\n"
          "<Location /server-status>\n  SetHandler server-status\n</Location>\n")
# A graceful restart or stop lets a child finish its connections. The event
# MPM closes idle keep-alive connections at once (reason shutdown); worker
# and prefork threads blocked reading the next request wait until
# KeepAliveTimeout (reason timeout).
KEEPALIVE_DRAINS = {(m, w) for m in ("worker", "prefork") for w in ("graceful", "graceful-stop")}


class Held:
    """A keep-alive connection that made one request and now sits idle."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.port = self.sock.getsockname()[1]
        self.sock.sendall(REQUEST)
        got = b""
        while b"\r\n\r\n" not in got or len(got.split(b"\r\n\r\n", 1)[1]) < 406:
            got += self.sock.recv(65536)

    def wait_closed(self, timeout=30):
        """True once the server closed it (EOF)."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except (socket.timeout, ConnectionResetError):
            return False
        finally:
            self.sock.close()


def keepalive_threads(h):
    """Threads that wait for a keep-alive connection's next request ('K' in
    the scoreboard; the status request itself shows as 'W')."""
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=10)
    c.request("GET", "/server-status?auto", headers={"Connection": "close"})
    text = c.getresponse().read().decode()
    c.close()
    board = re.search(r"^Scoreboard: (\S+)$", text, re.M)
    return board.group(1).count("K") if board else -1


def events(text):
    """{conn id: peer port} started, {conn id: [(reason, requests)]} done."""
    starts, dones = {}, {}
    for line in text.splitlines():
        m = re.match(r"^S (\d+) (\d+) \d+$", line)
        if m:
            starts[int(m.group(1))] = int(m.group(2))
        m = re.match(r"^D (\d+) (\d+) (\d+)$", line)
        if m:
            dones.setdefault(int(m.group(1)), []).append((int(m.group(2)), int(m.group(3))))
    return starts, dones


def wait_all_done(t, timeout=60, quiet=2.0):
    """Until every conn-start seen has its conn-done and nothing new came
    for `quiet` seconds: the parent's own dummy connections (made to wake
    the children a graceful restart retires) can still arrive after the
    clients are done."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        now = t.raw()
        if now != last:
            last, since = now, time.monotonic()
        starts, dones = events(now)
        if set(starts) <= set(dones) and time.monotonic() - since >= quiet:
            return
        time.sleep(0.1)


def action(h, what):
    if what == "stop":
        h.stop()
    elif what == "graceful":
        os.kill(h.proc.pid, signal.SIGUSR1)
    elif what == "graceful-stop":
        os.kill(h.proc.pid, signal.SIGWINCH)
        h.proc.wait(timeout=60)
    elif what == "restart":
        os.kill(h.proc.pid, signal.SIGHUP)


@pytest.mark.parametrize("what", ["stop", "graceful", "graceful-stop", "restart"])
@pytest.mark.parametrize("mpm", MPMS)
def test_every_conn_start_has_its_conn_done(bpftrace, make_httpd, mpm, what):
    h = make_httpd(mpm, extra=EXTRA + STATUS)
    t = bpftrace(script=SCRIPT)
    # The held connections first, each back to waiting for its next request
    # before anything happens: a worker or prefork thread that finishes a
    # request after a graceful restart began closes its connection itself
    # (reason shutdown) instead of waiting out the keep-alive.
    held = [Held(h.port) for _ in range(HELD)]
    deadline = time.monotonic() + 30
    while mpm != "event" and keepalive_threads(h) != HELD:
        assert time.monotonic() < deadline, "held connections not idle: %d" % \
            keepalive_threads(h)
        time.sleep(0.05)
    wrk = subprocess.Popen(["wrk", "-t1", "-c4", "-d3s", h.url("/static.html")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    while time.monotonic() < deadline and len(events(t.raw())[0]) < HELD + 4 + 1:
        time.sleep(0.05)
    action(h, what)
    closed = [c.wait_closed() for c in held]
    wrk.communicate(timeout=60)
    wait_all_done(t)
    t.stop()
    starts, dones = events(t.raw())
    assert len(starts) >= HELD + 4, t.raw()[-2000:]
    missing = set(starts) - set(dones)
    assert not missing, ("no conn-done for", sorted(missing), t.describe(), t.raw()[-3000:])
    assert all(len(d) == 1 for d in dones.values()), dones
    assert set(dones) <= set(starts)
    # Held connections started first: a later connection (wrk's, the status
    # request's) that reused a client port must not stand for one.
    by_port = {}
    for cid, port in starts.items():
        by_port.setdefault(port, dones[cid][0])
    # The server ended each held idle connection: at once for the stop or
    # restart, or when its keep-alive ran out, as each MPM drains.
    assert closed == [True] * HELD
    want = TIMEOUT if (mpm, what) in KEEPALIVE_DRAINS else SHUTDOWN
    assert [by_port[c.port] for c in held] == [(want, 1)] * HELD, by_port


def one_connection(h, t, send, finish):
    """Make one connection, `send` on it, let `finish` end it; returns its
    conn-done (reason, requests)."""
    s = socket.create_connection(("127.0.0.1", h.port), timeout=30)
    port = s.getsockname()[1]
    send(s)
    finish(s)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        starts, dones = events(t.raw())
        ids = [cid for cid, p in starts.items() if p == port]
        if ids and ids[0] in dones:
            return dones[ids[0]][0]
        time.sleep(0.05)
    raise AssertionError("no conn-done for port %d: %s" % (port, t.raw()[-2000:]))


def read_response(s):
    got = b""
    while b"\r\n\r\n" not in got or len(got.split(b"\r\n\r\n", 1)[1]) < 406:
        got += s.recv(65536)


def read_to_eof(s):
    while s.recv(65536):
        pass
    s.close()


@pytest.mark.parametrize("mpm", MPMS)
def test_reasons(bpftrace, make_httpd, mpm):
    h = make_httpd(mpm, extra=EXTRA)
    t = bpftrace(script=SCRIPT)

    def request(s):
        s.sendall(REQUEST)
        read_response(s)

    def close_request(s):
        s.sendall(REQUEST.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))

    # the client closes an idle keep-alive connection
    assert one_connection(h, t, request, lambda s: s.close()) == (CLIENT, 1)
    # the client waits: KeepAliveTimeout (2 s) ends it
    assert one_connection(h, t, request, read_to_eof) == (TIMEOUT, 1)
    # Connection: close: the server closes after the response
    assert one_connection(h, t, close_request, read_to_eof) == (SERVER, 1)
    t.stop()


# ---------------------------------------------------------------------------
# Every argument, for each scenario of the shared traced run
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_arguments(run, name):
    """Every argument of the conn-done of the scenario's connection (its
    reason is tested above)."""
    sc = scenario(run, name)
    ev = run.events
    cid = scenario_conn(run, sc)
    cd = ev.conn_dones[cid]
    assert cd["requests"] == len(sc.expect)
    if sc.sent is not None:
        wire_in = sc.sent if sc.wire_in is None else sc.wire_in
        assert (cd["bytes_in"], cd["bytes_out"]) == (wire_in, sc.received + sc.unread_out)
    assert cd["duration_us"] > 0
    if sc.saw_close:    # curl and nghttp close after their window ends
        assert cd["duration_us"] < int((sc.t1 - sc.t0) * 1e6) + 1
