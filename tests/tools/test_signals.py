"""One Ctrl-C always stops httpdtrace, with its output complete.

bpftrace 0.17 can lose a SIGINT (docs/probes.md): its loop checks the flag
the handler sets only when epoll_wait() returns, so a signal that lands
between the check and the wait sleeps until the next event, and with traffic
stopped that is forever. httpdtrace's loops never sleep longer than a slice
(50 ms while streaming, 100 ms between interval reports, getch()'s 50 ms in
top), so a signal lost that way costs one slice at most. These tests send one
SIGINT at many points of that slice, to an idle tracer whose traffic has
stopped, under each kind of loop; the harness fails any run that needed a
second SIGINT (httpdtrace.Httpdtrace.stop), and each run's summary must count
every request sent before it.
"""
import http.client
import subprocess
import threading
import time

import pytest

from harness import httpdtrace as tool
from harness.httpd import MODULE
from harness.traffic import send

# Offsets into the sleep slice at which SIGINT lands (seconds after the
# traffic was seen), spread over 0..100 ms.
OFFSETS = [0.0, 0.013, 0.029, 0.047, 0.061, 0.083, 0.097, 0.151]
REQUESTS = 3


def traffic(h):
    for _ in range(REQUESTS):
        assert send(h, "GET", "/static.html") == 200
    h.wait_access_lines(REQUESTS)


@pytest.mark.parametrize("offset", OFFSETS)
def test_requests_stops_on_one_sigint(httpdtrace, make_httpd, offset):
    h = make_httpd("event")
    t = httpdtrace("requests", "-m", MODULE)
    traffic(h)
    t.stop(settle=0.3 + offset)
    assert t.rc == 0, t.describe()
    assert t.stopped.sigints == 1, t.describe()
    assert t.stderr.splitlines()[-1] == "httpdtrace: %d requests, 0 dropped" % REQUESTS, \
        t.describe()
    assert len(t.stdout.splitlines()) == 1 + REQUESTS


# No interval: one report at Ctrl-C. An interval: the loop sleeps towards the
# next report in 100 ms slices, and Ctrl-C mid-interval makes the report for
# the part it cut.
@pytest.mark.parametrize("interval,offset", [((), o) for o in OFFSETS] +
                         [(("30",), o) for o in OFFSETS[::2]])
def test_latency_stops_on_one_sigint(httpdtrace, make_httpd, interval, offset):
    h = make_httpd("event")
    t = httpdtrace("latency", "-m", MODULE, "-j", *interval)
    traffic(h)
    t.stop(settle=0.3 + offset)
    assert t.rc == 0, t.describe()
    assert t.stopped.sigints == 1, t.describe()
    reports = t.json("latency")
    assert len(reports) == 1 and [x["count"] for x in reports[0]["histograms"]] == [REQUESTS], \
        t.stdout


@pytest.mark.parametrize("offset", OFFSETS[::2])
def test_conns_stops_on_one_sigint(httpdtrace, make_httpd, offset):
    h = make_httpd("event")
    t = httpdtrace("conns", "-m", MODULE, "-j")
    traffic(h)
    deadline = time.monotonic() + 30     # conn-done fires once Apache closes
    while len(t.json("conn")) < REQUESTS and time.monotonic() < deadline:
        time.sleep(0.05)
    t.stop(settle=offset)
    assert t.rc == 0, t.describe()
    assert t.stopped.sigints == 1, t.describe()
    assert t.json("summary") == [{"type": "summary", "connections": REQUESTS, "dropped": 0}], \
        t.describe()


@pytest.mark.parametrize("offset", OFFSETS[::2])
def test_top_batch_stops_on_one_sigint(httpdtrace, make_httpd, offset):
    h = make_httpd("event")
    t = httpdtrace("top", "-m", MODULE, "-j", "-d", "30")
    traffic(h)
    t.stop(settle=0.3 + offset)
    assert t.rc == 0, t.describe()
    assert t.stopped.sigints == 1, t.describe()
    snaps = t.json("top")
    assert snaps and sum(r["requests"] for r in snaps[-1]["rows"]) == REQUESTS, t.stdout


def blocked_in_pipe_write(pid):
    """Asleep in a pipe's write (pipe_write, anon_pipe_write since 6.x)."""
    with open("/proc/%d/wchan" % pid) as f:
        return f.read().endswith("pipe_write")


def get_many(h, numbers):
    """GET /static.html?N for each N, a connection each."""
    for i in numbers:
        c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=10)
        c.request("GET", "/static.html?%06d" % i)
        r = c.getresponse()
        r.read()
        c.close()
        assert r.status == 200


def test_ctrl_c_while_stdout_is_full_loses_nothing(make_httpd, tracing):
    """A reader that lags (a pager, a slow pipe) leaves httpdtrace blocked in
    write(); Ctrl-C must not cut that write short: every line still comes
    out, then the summary, exit 0."""
    n = 1500  # lines of about 110 bytes: well over a pipe's 64 KiB
    h = make_httpd("event")
    p = subprocess.Popen([tool.TOOL, "requests", "-q", "-m", MODULE], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    err = []
    ready = threading.Event()

    def read_err():
        for line in p.stderr:
            err.append(line)
            ready.set()

    threading.Thread(target=read_err, daemon=True).start()
    try:
        assert ready.wait(30) and err[0].startswith("httpdtrace: tracing "), err
        clients = [threading.Thread(target=get_many, args=(h, range(k, n, 4)))
                   for k in range(4)]
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        assert len(h.wait_access_lines(n)) == n
        deadline = time.monotonic() + 60
        while not blocked_in_pipe_write(p.pid):
            assert time.monotonic() < deadline, "httpdtrace never filled its pipe"
            time.sleep(0.05)
        p.send_signal(subprocess.signal.SIGINT)
        lines = p.stdout.read().splitlines()
        assert p.wait(60) == 0, "".join(err)
    finally:
        p.kill()
        p.wait()
    assert len(lines) == 1 + n
    assert sorted(line.split()[-1] for line in lines[1:]) == \
        ["/static.html?%06d" % i for i in range(n)], lines[-3:]
    assert err[-1] == "httpdtrace: %d requests, 0 dropped\n" % n, err
