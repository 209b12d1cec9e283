"""No client can write to the operator's terminal.

Every byte value a request line can carry (all but CR, LF and the space that
splits it), in the uri, the query, the method, and in the Host and
User-Agent headers, is sent to an Apache that lets through what a lenient
configuration allows (HttpProtocolOptions Unsafe LenientMethods); Apache
answers most with 200/404 and the rest with 400, and fires request-done for
every one. Every text output of every subcommand, and of the bpftrace
scripts, must then hold no control byte (0x00-0x1f but the newline, 0x7f) and
no byte >= 0x80: httpdtrace writes them as \\xNN, as Apache's access log
does. The uris and methods `requests` prints must be exactly the JSON's,
escaped that way.
"""
import json
import os
import re
import socket
import time

import pytest

from harness.httpd import MODULE, REPO
from harness.httpdtrace import esc, parse_requests

# Bytes that frame a request line, and so cannot be inside one.
FRAMING = {0x0a, 0x0d, 0x20}
HOSTILE = [b for b in range(256) if b not in FRAMING]
ESCAPE_SEQ = b"/\x1b[2J\x1b[31mRED\x07"      # the example
SLOW_LUA = ("function handle(r)\n"
            "  os.execute('sleep 2')\n"
            "  r:puts('slow\\n')\n"
            "  return apache2.OK\n"
            "end\n")
EXTRA = "HttpProtocolOptions Unsafe LenientMethods\n"
SLOW_PATH = b"/s\xc2\x9b31m\xff.lua"   # a file of that name, held in flight: UTF-8 CSI
SCRIPTS = os.path.join(REPO, "scripts", "bpftrace")


def raw_records(t):
    """The request objects of a `requests -j` run, each string turned back
    into the bytes the client sent: httpdtrace writes valid UTF-8 as it is
    and a byte that is not part of valid UTF-8 as \\u00XX; such an escape
    becomes a surrogate-escaped byte before json.loads sees it."""
    out = []
    for line in t.out:
        fixed = re.sub(r'(?<!\\)((?:\\\\)*)\\u00([89a-f][0-9a-f])', r'\1\\udc\2', line)
        o = json.loads(fixed)
        if o["type"] == "request":
            out.append(o)
    return out


def raw_of(s):
    return s.encode("utf-8", "surrogateescape")


def exchange(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        while s.recv(65536):
            pass


def requests_to_send():
    reqs = []
    for b in HOSTILE:
        c = bytes([b])
        reqs.append(b"GET /h" + c + b"x?q" + c + b" HTTP/1.1\r\nHost: test.local\r\n"
                    b"User-Agent: ua" + c + b"\r\nConnection: close\r\n\r\n")
        reqs.append(b"G" + c + b"T /m HTTP/1.1\r\nHost: t" + c + b".local\r\n"
                    b"Connection: close\r\n\r\n")
    reqs.append(b"GET " + ESCAPE_SEQ + b" HTTP/1.1\r\nHost: test.local\r\n"
                b"Connection: close\r\n\r\n")
    # not a token: Apache answers 400, but the method is logged and traced
    reqs.append(b"SL\x1bW\x9b / HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n\r\n")
    return reqs


def clean(text_bytes):
    """The offending bytes of a text output (none is the only good answer)."""
    return sorted({b for b in text_bytes if (b < 0x20 and b != 0x0a) or b >= 0x7f})


TOOLS = {
    "requests": ["requests"],
    "requests -q": ["requests", "-q"],
    "latency -K method": ["latency", "-K", "method"],
    "phases -s 0": ["phases", "-s", "0"],
    "pools -r": ["pools", "-r"],
    "pools": ["pools"],
    "pools -L": ["pools", "-L"],
    "resources -r": ["resources", "-r"],
    "top -b": ["top", "-b", "-d", "0.5"],
    "top -b -g method": ["top", "-b", "-g", "method", "-d", "0.5"],
    "conns": ["conns"],
}


@pytest.fixture(scope="module")
def traced(tmp_path_factory, request):
    """One Apache, every text tool and script attached, the hostile traffic
    sent, a slow request with a hostile method held in flight until top
    showed it; then every tracer stopped. Returns (tools, scripts, truth)."""
    from harness import require_tracing
    from harness.httpd import Httpd
    from harness.httpdtrace import Httpdtrace
    from harness.tracer import Bpftrace
    require_tracing()
    base = tmp_path_factory.getbasetemp()
    for d in (base.parent, base):
        os.chmod(str(d), 0o755)
    root = tmp_path_factory.mktemp("hostile")
    os.chmod(str(root), 0o755)
    h = Httpd(root, mpm="event", extra=EXTRA)
    started = []
    try:
        h.start()
        slow_file = os.path.join(h.docroot.encode(), SLOW_PATH[1:])
        with open(slow_file, "w") as f:
            f.write(SLOW_LUA)
        os.chmod(slow_file, 0o644)
        truth = Httpdtrace("requests", "-m", MODULE, "-j", "-q")
        started.append(truth.start())
        tools = {}
        for name, args in TOOLS.items():
            tools[name] = Httpdtrace(*(args[:1] + ["-m", MODULE] + args[1:]))
            started.append(tools[name].start())
        scripts = {}
        for name, args in (("requests.bt", []), ("phases.bt", ["each"]),
                           ("conns.bt", [])):
            scripts[name] = Bpftrace(argv=[os.path.join(SCRIPTS, name), MODULE] + args,
                                     env={"BPFTRACE_STRLEN": "64"})
            started.append(scripts[name].start())
        reqs = requests_to_send()
        for data in reqs:
            exchange(h.port, data)
        # In flight: a hostile uri on a slow handler, until top shows it.
        slow = socket.create_connection(("127.0.0.1", h.port), timeout=30)
        slow.sendall(b"GET " + SLOW_PATH + b" HTTP/1.1\r\nHost: test.local\r\n"
                     b"Connection: close\r\n\r\n")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and esc(SLOW_PATH) not in tools["top -b"].stdout:
            time.sleep(0.1)
        while slow.recv(65536):
            pass
        slow.close()
        n = len(reqs) + 1
        h.wait_access_lines(n, timeout=60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(truth.json()) < n:
            time.sleep(0.1)
        for t in started:
            if isinstance(t, Bpftrace):
                t.stop(settle=1.0)
            else:
                t.stop(settle=0.5)
        yield tools, scripts, raw_records(truth), n
    finally:
        for t in started:
            if t.proc and t.proc.poll() is None:
                t.proc.kill()
        h.stop()


def test_every_request_was_traced(traced):
    _tools, _scripts, truth, n = traced
    assert len(truth) == n
    assert {r["status"] for r in truth} <= {200, 400, 404, 405, 501}


@pytest.mark.parametrize("name", list(TOOLS))
def test_text_output_has_no_control_or_high_byte(traced, name):
    tools = traced[0]
    t = tools[name]
    assert t.rc == 0, t.describe()
    out = "".join(t.out).encode("utf-8", "surrogateescape")
    assert len(out) > 0, t.describe()
    assert clean(out) == [], (name, t.stdout[:2000])


@pytest.mark.parametrize("name", ["requests.bt", "phases.bt", "conns.bt"])
def test_script_output_has_no_control_or_high_byte(traced, name):
    t = traced[1][name]
    out = t.raw().encode("utf-8", "surrogateescape")
    assert len(out.splitlines()) > 2, t.describe()
    assert clean(out) == [], (name, t.raw()[:2000])


def test_requests_prints_each_method_and_uri_escaped(traced):
    """Line by line, the method and uri columns are the JSON's bytes
    escaped: every byte the client sent can still be told."""
    tools, _scripts, truth, n = traced
    got = sorted((r["method"], r["uri"]) for r in parse_requests(tools["requests"].stdout))
    want = sorted((esc(raw_of(r["method"])) or "-", esc(raw_of(r["uri"])) or "-")
                  for r in truth)
    assert len(got) == n
    assert got == want
    assert "GET    " + esc(ESCAPE_SEQ) in tools["requests"].stdout
    assert esc(ESCAPE_SEQ) == "/\\x1b[2J\\x1b[31mRED\\x07"


def test_query_is_escaped_too(traced):
    tools, _scripts, truth, _n = traced
    uris = [r["uri"] for r in parse_requests(tools["requests -q"].stdout)]
    queries = sorted(u.split("?", 1)[1] for u in uris if "?" in u)
    want = sorted(esc(raw_of(r["query"])) for r in truth if r["query"])
    assert queries == want and len(want) > 200


def test_top_showed_the_hostile_uri_in_flight_and_the_method_row(traced):
    tools = traced[0]
    flights = [l for l in tools["top -b"].stdout.splitlines()
               if re.match(r"^ +\d+(\.\d+)?m?s +\d+ +127\.0\.0\.1 +GET +", l)]
    assert flights and flights[0].endswith(" " + esc(SLOW_PATH)), tools["top -b"].stdout[-3000:]
    assert re.search(r"^ +1 .* SL\\x1bW\\x9b$", tools["top -b -g method"].stdout, re.M)


def test_bpftrace_requests_script_escapes_as_x(traced):
    out = traced[1]["requests.bt"].raw()
    assert "/\\x1b[2J\\x1b[31mRED\\x07" in out
    assert json.dumps(out).count("\\u001b") == 0
    assert re.search(r"/h\\x7fx", out)
