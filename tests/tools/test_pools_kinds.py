"""`httpdtrace pools` by kind of pool, block fetches and the leak view (-L),
on a real Apache running a module written for the test
(tests/tools/mod_pooltest.c, built here with apxs). Its handler allocates
known amounts from a subpool of r->pool, from c->pool and from the child's
pools, so every figure is known from libapr 1.7's rules (the module's
comment derives them):

  request (subpool of r->pool): 8 x 1024 + 3 x 20000 bytes, 11 calls,
          4 block fetches (the 8th 1024 and each 20000)
  conn    (c->pool): 20000 bytes, 1 call, 1 block fetch
  child   (pchild and a subpool of it): 20000 + 2048 bytes, 2 calls, 1
          block fetch, and one more at the 4th, 7th, 10th... 2048 of the
          child (three fit in a block)

on /pt/a; /pt/0 runs the same handler and allocates nothing: Apache's own
work is the same for both, so their difference is the module's alone."""
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from harness.httpd import MODULE, REPO

SOURCE = os.path.join(REPO, "tests", "tools", "mod_pooltest.c")
REQUEST = {"calls": 8 + 3, "bytes": 8 * 1024 + 3 * 20000, "blocks": 1 + 3}
CONN = {"calls": 1, "bytes": 20000, "blocks": 1}
CHILD = {"calls": 2, "bytes": 20000 + 2048}


def child_blocks(n):
    """Block fetches of the child's pools on the n-th /pt/a of a child."""
    return 1 + (1 if n >= 4 and (n - 1) % 3 == 0 else 0)


@pytest.fixture(scope="module")
def pooltest(tmp_path_factory):
    """mod_pooltest.so, built with apxs in a folder of its own."""
    d = tmp_path_factory.mktemp("pooltest")
    shutil.copy(SOURCE, str(d))
    out = subprocess.run(["apxs", "-c", "-o", "mod_pooltest.so", "mod_pooltest.c"],
                         cwd=str(d), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    so = os.path.join(str(d), ".libs", "mod_pooltest.so")
    assert os.path.exists(so)
    return so


def start(make_httpd, pooltest, mpm):
    """An Apache with the module, and no access log: mod_log_config formats
    each line in r->pool, and its length varies with the latency's digits."""
    return make_httpd(mpm, log_requests=False,
                      extra="LoadModule pooltest_module %s\n"
                      "<Location /pt>\n  SetHandler pooltest\n</Location>\n" % pooltest)


def keepalive(h, paths):
    """GET every path in order on one connection (curl reuses it)."""
    args = ["curl", "-s", "-w", "%{http_code} %{num_connects}\\n"]
    for p in paths:
        args += ["-o", "/dev/null", h.url(p)]
    out = subprocess.run(args, capture_output=True, text=True)
    lines = out.stdout.split("\n")[:len(paths)]
    assert [line.split()[0] for line in lines] == ["200"] * len(paths), out.stdout
    # one connection made, for the first request only
    assert [line.split()[1] for line in lines] == ["1"] + ["0"] * (len(paths) - 1), out.stdout


def wait_lines(t, want, timeout=30):
    """Poll the tool's stdout until `want(lines)` holds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if want(t.stdout.splitlines()):
            return
        time.sleep(0.1)
    raise AssertionError("not in time: " + t.stdout[-2000:] + t.describe())


def json_lines(lines, kind):
    return [o for o in map(json.loads, lines) if o["type"] == kind]


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_bytes_and_blocks_per_kind(httpdtrace, make_httpd, pooltest, mpm):
    h = start(make_httpd, pooltest, mpm)
    paths = ["/pt/0"] + ["/pt/0", "/pt/a"] * 5
    t = httpdtrace("pools", "-m", MODULE, "-r", "-j")
    keepalive(h, paths)
    wait_lines(t, lambda lines: len(json_lines(lines, "request")) == len(paths))
    t.stop(settle=0)
    assert t.rc == 0, t.describe()
    reqs = t.json("request")
    assert [r["uri"] for r in reqs] == paths
    # one connection, known by its id
    assert len({r["conn_id"] for r in reqs}) == 1 and reqs[0]["conn_id"] > 0
    kinds = ["request", "conn", "child", "other"]
    for r in reqs:
        for what in ("calls", "bytes", "blocks"):
            total = "blocks" if what == "blocks" else "palloc_" + what
            assert r[total] == sum(r["%s_%s" % (k, what)] for k in kinds), r
        # every pool Apache allocates from is under the process pool
        assert r["other_calls"] == 0, r
    n = 0
    for base, alloc in zip(reqs[1::2], reqs[2::2]):
        n += 1
        # the module's request allocations, over Apache's own
        for what, want in REQUEST.items():
            key = "request_" + what
            assert alloc[key] - base[key] == want, (what, base, alloc)
        # the child's pools: only the module allocates there per request
        assert base["child_calls"] == base["child_bytes"] == base["child_blocks"] == 0, base
        assert alloc["child_calls"] == CHILD["calls"], alloc
        assert alloc["child_bytes"] == CHILD["bytes"], alloc
        assert alloc["child_blocks"] == child_blocks(n), (n, alloc)
        # the connection's pool: Apache adds nothing to it per keep-alive
        # request, except under event where writing the response can
        # complete asynchronously and set data aside in a subpool of it
        if mpm == "event":
            assert alloc["conn_bytes"] >= CONN["bytes"] and alloc["conn_blocks"] >= 1, alloc
            continue
        assert base["conn_calls"] == base["conn_bytes"] == base["conn_blocks"] == 0, base
        for what, want in CONN.items():
            assert alloc["conn_" + what] == want, (what, alloc)
    # the first request on the connection also gets what setting up the
    # connection allocated from its pool, before any request began
    assert reqs[0]["conn_bytes"] > 0 and reqs[0]["conn_calls"] > 0


LEAK_LINE = re.compile(r"^(\d+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+) (\S+)$")
LEAK_ROW = re.compile(r"^(\d+) +(\d+|child) +(\d+) +(\d+) +(\d+) (.*)$")


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_leak_view_grows_over_keepalive(httpdtrace, make_httpd, pooltest, mpm):
    h = start(make_httpd, pooltest, mpm)
    first = ["/pt/0"] + ["/pt/a"] * 6
    second = ["/pt/a"] * 3
    t = httpdtrace("pools", "-m", MODULE, "-L")
    keepalive(h, first)
    keepalive(h, second)
    # a line for each request that allocated from connection or child pools
    wait_lines(t, lambda lines: len(lines) == 1 + 1 + 6 + 3)
    t.stop(settle=0)
    assert t.rc == 0, t.describe()
    lines = t.stdout.splitlines()
    assert lines[0].split() == ["PID", "CONN", "ID", "CONNBYTES", "CONNTOTAL", "CHILDBYTES",
                                "CHILDTOTAL", "URI"]
    stream = [LEAK_LINE.match(line) for line in lines[1:11]]
    assert all(stream), lines
    rows = [dict(zip(["pid", "conn", "id", "conn_bytes", "conn_total", "child_bytes",
                      "child_total"], map(int, m.groups()[:7])), uri=m.group(8))
            for m in stream]
    assert [r["uri"] for r in rows] == first + second
    conns = [rows[0]["conn"], rows[7]["conn"]]
    assert conns[0] != conns[1] and all(r["conn"] == conns[0] for r in rows[:7])
    assert all(r["conn"] == conns[1] for r in rows[7:])
    # /pt/0, first on its connection: what setting the connection up took
    assert rows[0]["child_bytes"] == 0 and rows[0]["conn_bytes"] == rows[0]["conn_total"] > 0
    setup = rows[0]["conn_bytes"]
    child_total = {}
    for i, r in enumerate(rows[1:], 1):
        assert r["child_bytes"] == CHILD["bytes"], r
        child_total[r["pid"]] = child_total.get(r["pid"], 0) + r["child_bytes"]
        assert r["child_total"] == child_total[r["pid"]], r
        if mpm == "prefork":
            # exact growth of the connection's pool, request by request
            grown = setup + 20000 * i if i < 7 else rows[7]["conn_bytes"] + 20000 * (i - 7)
            assert r["conn_bytes"] == (20000 if i != 7 else r["conn_bytes"]), r
            assert r["conn_total"] == grown, (i, r)
        else:
            prev = rows[i - 1]["conn_total"] if i != 7 else 0
            assert r["conn_total"] == prev + r["conn_bytes"] and r["conn_bytes"] >= 20000, r
    # the second connection's first request: its setup and its 20000
    assert rows[7]["conn_bytes"] > 20000
    # the table at the end: a row per connection and per child, the most
    # bytes first, with the uris responsible
    assert lines[11] == ""
    assert lines[12].split()[:5] == ["PID", "CONN", "REQS", "BYTES", "BLOCKS"]
    table = [LEAK_ROW.match(line) for line in lines[13:]]
    assert all(table), lines[13:]
    got = {}
    for m in table:
        got[(int(m.group(1)), m.group(2))] = (int(m.group(3)), int(m.group(4)),
                                               int(m.group(5)), m.group(6))
    c1, c2 = (got[(rows[0]["pid"], str(conns[0]))], got[(rows[7]["pid"], str(conns[1]))])
    assert c1[0] == 7 and c2[0] == 3
    assert c1[1] == rows[6]["conn_total"] and c2[1] == rows[9]["conn_total"]
    if mpm == "prefork":
        assert c1[1] == setup + 6 * 20000 and c1[2] == 6 + 0
        assert c1[3] == "/pt/a %d, /pt/0 %d" % (6 * 20000, setup)
    children = {k: v for k, v in got.items() if k[1] == "child"}
    assert sum(v[1] for v in children.values()) == 9 * CHILD["bytes"]
    assert all(v[3] == "/pt/a %d" % v[1] for v in children.values())
    assert [int(m.group(4)) for m in table] == sorted((int(m.group(4)) for m in table),
                                                      reverse=True)
    # the README and the man page show this view as the tool prints it
    for doc in ("README.md", os.path.join("docs", "man", "httpdtrace.8")):
        with open(os.path.join(REPO, doc)) as f:
            text = f.read()
        assert lines[0] in text and lines[12] in text, doc


def test_kinds_view_and_bad_options(httpdtrace, make_httpd, pooltest):
    h = start(make_httpd, pooltest, "worker")
    t = httpdtrace("pools", "-m", MODULE, "-k", "-r")
    keepalive(h, ["/pt/0", "/pt/a", "/pt/a"])
    wait_lines(t, lambda lines: len(lines) == 4)
    t.stop(settle=0)
    assert t.rc == 0, t.describe()
    lines = t.stdout.splitlines()
    assert lines[0].split() == ["ID", "REQUEST", "BLK", "CONN", "BLK", "CHILD", "BLK",
                                "OTHER", "BLK", "URI"]
    rows = [line.split() for line in lines[1:]]
    assert [r[-1] for r in rows] == ["/pt/0", "/pt/a", "/pt/a"]
    # worker: no asynchronous write completion, the connection's pool gets
    # the module's 20000 alone; the child's pools 22048 in one block
    for r in rows[1:]:
        assert r[3:9] == ["20000", "1", str(CHILD["bytes"]), "1", "0", "0"], r
    out = subprocess.run([os.path.join(os.path.dirname(MODULE), "httpdtrace"), "pools",
                          "-k", "-L"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "-k and -L are different views: choose one" in out.stderr.splitlines()[0]


def test_leak_view_json(httpdtrace, make_httpd, pooltest):
    """-L -j on worker (no asynchronous writes: the connection's pool gets
    the module's 20000 alone after its set-up): a leak object per request
    with exact running totals, then one per connection and per child."""
    h = start(make_httpd, pooltest, "worker")
    t = httpdtrace("pools", "-m", MODULE, "-L", "-j")
    keepalive(h, ["/pt/a"] * 4)
    wait_lines(t, lambda lines: len(json_lines(lines, "leak")) == 4)
    t.stop(settle=0)
    assert t.rc == 0, t.describe()
    leaks = t.json("leak")
    setup = leaks[0]["conn_bytes"] - CONN["bytes"]
    assert setup > 0
    for i, r in enumerate(leaks):
        assert r["uri"] == "/pt/a" and r["conn_id"] == leaks[0]["conn_id"]
        assert r["conn_bytes"] == CONN["bytes"] + (setup if i == 0 else 0)
        assert r["conn_total"] == setup + CONN["bytes"] * (i + 1)
        assert r["conn_blocks"] == 1
        assert r["child_bytes"] == CHILD["bytes"]
        assert r["child_total"] == CHILD["bytes"] * (i + 1)
        assert r["child_blocks"] == child_blocks(i + 1)
    conn, = t.json("conn")
    assert conn == {"type": "conn", "pid": leaks[0]["pid"], "conn_id": leaks[0]["conn_id"],
                    "requests": 4, "bytes": setup + 4 * CONN["bytes"], "blocks": 4,
                    "uris": [{"uri": "/pt/a", "bytes": setup + 4 * CONN["bytes"]}],
                    "other_uris_bytes": 0}
    child, = t.json("child")
    assert child == {"type": "child", "pid": leaks[0]["pid"], "requests": 4,
                     "bytes": 4 * CHILD["bytes"], "blocks": 5,
                     "uris": [{"uri": "/pt/a", "bytes": 4 * CHILD["bytes"]}],
                     "other_uris_bytes": 0}


def test_http2_kinds(httpdtrace, make_httpd, pooltest):
    """HTTP/2: the handler runs on a secondary connection whose pool is under
    the client connection's, so its allocations count as conn; the request's
    and the child's are as on HTTP/1."""
    h = start(make_httpd, pooltest, "event")
    t = httpdtrace("pools", "-m", MODULE, "-r", "-j")
    for path in ("/pt/0", "/pt/a"):
        out = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "-o", "/dev/null",
                              "-w", "%{http_code} %{http_version}", h.url(path)],
                             capture_output=True, text=True)
        assert out.stdout == "200 2", out
    wait_lines(t, lambda lines: len(json_lines(lines, "request")) == 2)
    t.stop(settle=0)
    assert t.rc == 0, t.describe()
    base, alloc = t.json("request")
    assert (base["uri"], alloc["uri"]) == ("/pt/0", "/pt/a")
    for what, want in REQUEST.items():
        assert alloc["request_" + what] - base["request_" + what] == want, (what, base, alloc)
    assert alloc["child_bytes"] == CHILD["bytes"] and alloc["child_calls"] == CHILD["calls"]
    # the module's 20000 (plus the stream's own set-up, which varies)
    assert alloc["conn_bytes"] >= CONN["bytes"] and alloc["conn_blocks"] >= 1, alloc
    assert alloc["other_calls"] == base["other_calls"] == 0
