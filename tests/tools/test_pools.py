"""`httpdtrace pools` on a real Apache: a mod_lua handler that copies a known
amount into pool memory must show it as apr_palloc bytes of its own request
(and of no other), identical requests must count the same, and the per-uri
table must add up the per-request lines."""
import re
import subprocess

import pytest

from harness import MPMS, handlers
from harness.httpd import MODULE

COLS = ["palloc_calls", "palloc_bytes", "blocks", "malloc_calls", "malloc_bytes"]
LINE = re.compile(r"^(\d+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+) (\S+)$")
# What a request allocates in its pool besides the handler's copies (reading
# it, mapping it, logging it): ~12-22 KiB measured here; the bound is loose.
BASE_MAX = 64 << 10
CONSISTENT_BYTES = 16 << 10
ALLOCATED = handlers.ALLOC_CHUNKS * (handlers.ALLOC_BYTES + 1)


def get(h, path):
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", h.url(path)],
                         capture_output=True, text=True)
    assert out.stdout == "200", path


def traced(httpdtrace, h, args, paths):
    t = httpdtrace("pools", "-m", MODULE, *args)
    for p in paths:
        get(h, p)
    h.wait_access_lines(len(paths))
    t.stop(settle=1.0)
    assert t.rc == 0, t.describe()
    return t


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_pool_bytes_land_on_the_right_request(httpdtrace, make_httpd, mpm):
    h = make_httpd(mpm)
    handlers.install(h)
    paths = ["/static.html", "/alloc.lua", "/static.html", "/alloc.lua", "/static.html"]
    t = traced(httpdtrace, h, ["-r"], paths)
    lines = t.stdout.splitlines()
    assert lines[0].split() == ["ID", "PALLOCS", "PBYTES", "BLOCKS", "MALLOCS", "MBYTES", "URI"]
    rows = []
    for line in lines[1:]:
        m = LINE.match(line)
        assert m, line
        rows.append(dict(zip(["id"] + COLS, map(int, m.groups()[:6])), uri=m.group(7)))
    assert [r["uri"] for r in rows] == paths
    alloc = [r for r in rows if r["uri"] == "/alloc.lua"]
    static = [r for r in rows if r["uri"] == "/static.html"]
    for r in alloc:
        assert ALLOCATED <= r["palloc_bytes"] <= ALLOCATED + BASE_MAX
        # Lua builds the 1 MiB string in malloc'd memory first.
        assert r["malloc_bytes"] >= handlers.ALLOC_BYTES
        # Each 1 MiB copy is larger than any block the pool has: a block
        # fetch each, besides the few of Apache's own work.
        assert r["blocks"] >= handlers.ALLOC_CHUNKS
    for r in static:
        assert 0 < r["palloc_bytes"] <= BASE_MAX
    # Identical requests, nearly identical pool work: they differ only by
    # per-process first times (mod_lua compiling the script in a child that
    # had not run it yet: ~35 calls, a few KiB).
    for same in (alloc, static):
        calls = [r["palloc_calls"] for r in same]
        nbytes = [r["palloc_bytes"] for r in same]
        assert max(calls) - min(calls) <= max(calls) // 5
        assert max(nbytes) - min(nbytes) <= CONSISTENT_BYTES


def test_per_uri_table_and_json(httpdtrace, make_httpd):
    h = make_httpd("worker")
    handlers.install(h)
    paths = ["/alloc.lua", "/static.html", "/static.html", "/alloc.lua"]
    t = traced(httpdtrace, h, ["-j", "-r"], paths)
    reqs = t.json("request")
    assert sorted(r["uri"] for r in reqs) == sorted(paths)
    t2 = traced(httpdtrace, h, ["-j"], paths)
    uris = {u["uri"]: u for u in t2.json("uri")}
    assert sorted(uris) == ["/alloc.lua", "/static.html"]
    assert uris["/alloc.lua"]["requests"] == 2 and uris["/static.html"]["requests"] == 2
    # Totals per uri: two alloc requests' worth of copies.
    assert 2 * ALLOCATED <= uris["/alloc.lua"]["palloc_bytes"] <= 2 * (ALLOCATED + BASE_MAX)
    # Sorted on pool bytes, the largest first.
    assert [u["uri"] for u in t2.json("uri")] == ["/alloc.lua", "/static.html"]
    assert "4 requests" in t2.stderr
