"""A bounded, seeded fuzz run: thousands of malformed and mutated requests
against the fixture Apache with every probe traced by httpdtrace.

Bad request lines, huge and NUL-carrying headers, broken chunked bodies,
HTTP/2 frames cut short, and connections dropped at random byte offsets, on
CONNECTIONS connections from a few threads. Then: no Apache process died
(parent alive, no "exit signal" in the error log), request-done fired once
per access-log line, every conn-start has its conn-done (the kernel-side
accept and close counters, and one conn event per connection made), and
every JSON line every tracer wrote parses. FUZZ_SEED=N replays a run.
"""
import json
import os
import random
import socket
import struct
import threading
import time

import pytest

from harness import MPMS
from harness.httpd import MODULE

SEED = int(os.environ.get("FUZZ_SEED", "20261202"))
CONNECTIONS = 1200       # per MPM
THREADS = 6

BASE = [
    b"GET /static.html HTTP/1.1\r\nHost: test.local\r\n\r\n",
    b"GET /nope?a=b HTTP/1.1\r\nHost: test.local\r\nUser-Agent: fuzz\r\n\r\n",
    b"HEAD /dir/ HTTP/1.0\r\n\r\n",
    b"POST /post.lua HTTP/1.1\r\nHost: test.local\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /post.lua HTTP/1.1\r\nHost: test.local\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhello\r\n0\r\n\r\n",
    b"GET /static.html HTTP/1.1\r\nHost: test.local\r\n\r\n"
    b"GET /nope HTTP/1.1\r\nHost: test.local\r\n\r\n",
]


def h2_request(path=b"/static.html", stream=1):
    """Prior-knowledge h2c: preface, SETTINGS, one HEADERS frame (GET)."""
    block = (b"\x82\x86" + b"\x44" + bytes([len(path)]) + path +
             b"\x41\x0atest.local")
    frame = struct.pack(">I", len(block))[1:] + b"\x01\x05" + struct.pack(">I", stream) + block
    return b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00" + frame


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(5)
        i = rng.randrange(len(data) + 1)
        if op == 0 and data:                            # flip a byte
            data[min(i, len(data) - 1)] = rng.randrange(256)
        elif op == 1:                                   # insert random bytes
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op == 2 and data:                          # delete a run
            del data[i:i + rng.randint(1, 8)]
        elif op == 3:                                   # NUL
            data[i:i] = b"\x00"
        else:                                           # repeat a slice
            j = rng.randrange(len(data) + 1)
            data[i:i] = data[min(i, j):max(i, j)][:64]
    return bytes(data)


def case(rng):
    """(bytes to send, how to end): 'read' waits for the server's answer,
    'drop' closes at once, 'reset' closes with RST."""
    kind = rng.randrange(9)
    if kind == 0:                                       # bad request line
        line = rng.choice([b"GET", b"G\x00T", b"\xff\xfe", b"", b"GET /"]) + \
            rng.choice([b" /x", b" ", b"  /a b c", b" *", b" http://h/"]) + \
            rng.choice([b" HTTP/1.1", b" HTTP/9.9", b" HTTP/1.1 extra", b"", b" HTTP/"])
        data = line + b"\r\nHost: test.local\r\n\r\n"
    elif kind == 1:                                     # too long a uri (414)
        data = b"GET /" + b"a" * rng.randint(900, 3000) + b" HTTP/1.1\r\nHost: t\r\n\r\n"
    elif kind == 2:                                     # huge or NUL headers
        value = rng.choice([b"x" * rng.randint(8000, 20000), b"a\x00b", b"\x00" * 64])
        data = b"GET /static.html HTTP/1.1\r\nHost: test.local\r\nX-Fuzz: " + value + b"\r\n\r\n"
    elif kind == 3:                                     # many headers
        data = b"GET / HTTP/1.1\r\nHost: t\r\n" + b"A: b\r\n" * rng.randint(90, 200) + b"\r\n"
    elif kind == 4:                                     # broken chunked body
        data = (b"POST /post.lua HTTP/1.1\r\nHost: test.local\r\nTransfer-Encoding: chunked\r\n"
                b"\r\n" + rng.choice([b"zz\r\nhello\r\n0\r\n\r\n", b"5\r\nhelloXX0\r\n\r\n",
                                       b"ffffffffffffffffff\r\n", b"-1\r\n\r\n",
                                       b"5;ext=\x00\r\nhello\r\n0\r\n\r\n"]))
    elif kind == 5:                                     # h2 frames, cut or mutated
        data = h2_request()
        data = data[:rng.randint(0, len(data))] if rng.random() < 0.5 else mutate(rng, data)
    else:                                               # a mutated valid request
        data = mutate(rng, rng.choice(BASE))
    end = rng.choice(["read", "read", "drop", "reset"])
    if end != "read":                                   # dropped at a random offset
        data = data[:rng.randint(0, len(data))]
    return data, end


def play(port, data, end):
    """One connection; returns its client port."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    mine = s.getsockname()[1]
    try:
        if data:
            s.sendall(data)
        if end == "read":
            s.settimeout(0.5)           # the server may wait for more: give up
            try:
                while s.recv(65536):
                    pass
            except (socket.timeout, ConnectionResetError):
                pass
        elif end == "reset":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        s.close()
    return mine


@pytest.mark.parametrize("mpm", MPMS)
def test_fuzz(httpdtrace, make_httpd, mpm):
    # Accept every connection at once: with Linux's TCP_DEFER_ACCEPT a client
    # that sends nothing and leaves is never handed to Apache at all.
    h = make_httpd(mpm, extra="AcceptFilter http none\n")
    conns = httpdtrace("conns", "-m", MODULE, "-j")
    summary = httpdtrace("conns", "-m", MODULE, "-j", "-S", "1")
    reqs = httpdtrace("requests", "-m", MODULE, "-j", "-q")
    phases = httpdtrace("phases", "-m", MODULE, "-j")
    top = httpdtrace("top", "-m", MODULE, "-j", "-d", "1")
    n0 = len(h.access_entries())
    rng = random.Random("%d-%s" % (SEED, mpm))
    cases = [case(rng) for _ in range(CONNECTIONS)]
    errors, ports = [], []

    def worker(part):
        for data, end in part:
            try:
                ports.append(play(h.port, data, end))
            except OSError as e:
                errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(cases[i::THREADS],))
               for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:5]
    # Connections Apache still holds end by RequestReadTimeout (header=2,
    # body=5) or Timeout: wait for every conn-done.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and \
            not set(ports) <= {c["peer_port"] for c in conns.json("conn")}:
        time.sleep(0.2)
    # request-done fires first in log_transaction, the log line right after:
    # wait until both say the same and have not moved for a second.
    deadline = time.monotonic() + 30
    seen, since = None, time.monotonic()
    while time.monotonic() < deadline:
        now = (len(reqs.json()), len(h.access_entries()))
        if now != seen:
            seen, since = now, time.monotonic()
        elif now[0] == now[1] and time.monotonic() - since >= 1.0:
            break
        time.sleep(0.1)
    for t in (conns, summary, reqs, phases, top):
        t.stop()
        assert t.rc == 0, t.describe()
    log = h.access_entries()[n0:]

    # Apache survived: the parent runs, no child died of a signal.
    assert h.proc.poll() is None
    errlog = h.read_error_log()
    assert "exit signal" not in errlog and "Segmentation" not in errlog, errlog[-3000:]
    # Every JSON line of every tracer parses (json() raises otherwise).
    for t in (conns, summary, reqs, phases, top):
        for line in t.out:
            json.loads(line)
    # One request-done per access-log line.
    done = reqs.json()
    assert len(done) == len(log) > CONNECTIONS // 4
    # Every connection made had its conn-start and its conn-done, once. So
    # did Apache's own: the parent's dummy connections that wake a child it
    # retires, which make one request each and may reuse a client port.
    events = conns.json("conn")
    dummies = {r["conn_id"] for r in done if "(internal dummy connection)" in r["user_agent"]}
    assert len(ports) == CONNECTIONS
    assert sorted(e["peer_port"] for e in events if e["conn_id"] not in dummies) == \
        sorted(ports)
    assert all(e["start_seen"] for e in events)
    assert len({e["conn_id"] for e in events}) == len(events)
    reports = summary.json("conns")
    assert sum(r["accepts"] for r in reports) == sum(r["closes"] for r in reports) == \
        len(events)
    assert reports[-1]["open"] == 0
    assert sum(e["requests"] for e in events) == len(done)
