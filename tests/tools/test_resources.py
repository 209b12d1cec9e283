"""`httpdtrace resources` on a real Apache: a mod_lua handler's known sleep
must be off-CPU time of its own requests and of no other, a large static
file's bytes must be written on its own request, and identical requests
must count alike."""
import re
import subprocess
import time

import pytest

from harness import handlers
from harness.httpd import MODULE

COLS = ["oncpu_us", "offcpu_us", "syscalls", "sock_read_bytes", "sock_write_bytes",
        "minor_faults", "major_faults"]
LINE = re.compile(r"^(\d+)" + r" +(\d+)" * 7 + r" (\S+)$")
SLEEP_US = handlers.SLEEP_S * 1e6
HEADERS_MAX = 1024  # response headers, written with the body


def get(h, path):
    """GET path; the size of the request curl sent."""
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_request}",
                          h.url(path)], capture_output=True, text=True)
    code, size = out.stdout.split()
    assert code == "200", path
    return int(size)


def traced(httpdtrace, h, args, paths):
    t = httpdtrace("resources", "-m", MODULE, *args)
    t.sent = [get(h, p) for p in paths]
    h.wait_access_lines(len(paths))
    t.stop(settle=1.0)
    assert t.rc == 0, t.describe()
    return t


def parse(text):
    lines = text.splitlines()
    assert lines[0].split() == ["ID", "ONCPU", "OFFCPU", "SYSC", "RBYTES", "WBYTES", "MINFLT",
                                "MAJFLT", "URI"]
    rows = []
    for line in lines[1:]:
        m = LINE.match(line)
        assert m, line
        rows.append(dict(zip(["id"] + COLS, map(int, m.groups()[:8])), uri=m.group(9)))
    return rows


# Worker and prefork write responses on the request's thread; the event MPM
# may finish a large one asynchronously on another thread (ATTRIBUTION).
@pytest.mark.parametrize("mpm", ["worker", "prefork"])
def test_resources_land_on_the_right_request(httpdtrace, make_httpd, mpm):
    h = make_httpd(mpm)
    handlers.install(h)
    paths = ["/static.html", "/sleep.lua", "/big.bin", "/static.html", "/sleep.lua",
             "/big.bin", "/static.html"]
    t = traced(httpdtrace, h, ["-r"], paths)
    rows = parse(t.stdout)
    assert [r["uri"] for r in rows] == paths, t.stdout
    # The request as read from the socket (before it had an id: held for it
    # by its thread), byte for byte.
    assert [r["sock_read_bytes"] for r in rows] == t.sent, t.stdout
    by = {}
    for r in rows:
        by.setdefault(r["uri"], []).append(r)
    # The sleep is off-CPU time of the sleeping requests only.
    for r in by["/sleep.lua"]:
        assert r["offcpu_us"] >= SLEEP_US, t.stdout
    for r in by["/static.html"] + by["/big.bin"]:
        assert r["offcpu_us"] < SLEEP_US, t.stdout
    # Response bytes on the client socket, on their own request.
    for r in by["/big.bin"]:
        assert handlers.BIG_BYTES <= r["sock_write_bytes"] <= handlers.BIG_BYTES + HEADERS_MAX, \
            t.stdout
    for r in by["/static.html"]:
        assert 406 <= r["sock_write_bytes"] <= 406 + HEADERS_MAX, t.stdout
    # Identical requests: the same bytes written, CPU and syscalls counted.
    for same in by.values():
        assert len({r["sock_write_bytes"] for r in same}) == 1, t.stdout
        assert all(r["oncpu_us"] > 0 and r["syscalls"] > 0 for r in same), t.stdout


def test_a_new_child_counts_from_its_first_read(httpdtrace, make_httpd):
    """A child forked while tracing reads its first request before it fires
    any probe, and before the tool's once-a-second scan of processes: it is
    Apache's from its fork. A graceful restart replaces every prefork child."""
    h = make_httpd("prefork")
    t = httpdtrace("resources", "-m", MODULE, "-r")
    old = set(h.children())
    h.graceful()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = set(h.children())
        if len(now) >= 2 and not now & old:
            break
        time.sleep(0.01)
    else:
        pytest.fail("the graceful restart did not replace the children: %s" % now)
    sent = [get(h, "/static.html") for _ in range(2)]
    h.wait_access_lines(2)
    t.stop(settle=1.0)
    assert t.rc == 0, t.describe()
    # The parent's dummy connections that woke the old children may show too.
    rows = [r for r in parse(t.stdout) if r["uri"] == "/static.html"]
    assert [r["sock_read_bytes"] for r in rows] == sent, t.stdout
    assert all(r["syscalls"] > 0 and r["sock_write_bytes"] > 0 for r in rows), t.stdout


def test_per_uri_json(httpdtrace, make_httpd):
    h = make_httpd("event")
    handlers.install(h)
    paths = ["/sleep.lua", "/static.html", "/static.html"]
    t = traced(httpdtrace, h, ["-j"], paths)
    uris = {u["uri"]: u for u in t.json("uri")}
    assert sorted(uris) == ["/sleep.lua", "/static.html"]
    assert (uris["/sleep.lua"]["requests"], uris["/static.html"]["requests"]) == (1, 2)
    assert uris["/sleep.lua"]["offcpu_us"] >= SLEEP_US
    assert uris["/static.html"]["offcpu_us"] < SLEEP_US
    assert 2 * 406 <= uris["/static.html"]["sock_write_bytes"] <= 2 * (406 + HEADERS_MAX)
    assert "3 requests" in t.stderr


def test_http2_limits(httpdtrace, make_httpd):
    """The documented limit, as it is: an HTTP/2 request runs on a mod_http2
    worker thread, so its off-CPU time is its own, but the socket is read and
    written by the connection's thread, whose bytes go to no request here."""
    h = make_httpd("event")
    handlers.install(h)
    t = httpdtrace("resources", "-m", MODULE, "-r")
    for p in ["/sleep.lua", "/big.bin"]:
        out = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "-o", "/dev/null", "-w",
                              "%{http_code} %{http_version}", h.url(p)],
                             capture_output=True, text=True)
        assert out.stdout == "200 2", p
    h.wait_access_lines(2)
    t.stop(settle=1.0)
    rows = {r["uri"]: r for r in parse(t.stdout)}
    assert sorted(rows) == ["/big.bin", "/sleep.lua"]
    assert rows["/sleep.lua"]["offcpu_us"] >= SLEEP_US
    assert rows["/big.bin"]["offcpu_us"] < SLEEP_US
    assert all(r["sock_read_bytes"] == r["sock_write_bytes"] == 0 for r in rows.values())
