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
import time

import pytest

from httpd import MODULE
from test_httpdtrace_requests import send

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
