"""Tracing some probes only: what each probe needs still works alone.

- request probes only: every request carries its client connection's id,
  HTTP/2 streams included (the id is taken when the connection is accepted,
  on its own thread; the streams' threads only read it);
- connection probes only: conn-done counts the requests all the same,
  including one Apache refused (400).
"""
import subprocess

import pytest

from harness import MPMS
from harness.traced_run import (EXTRA, H2_PATHS, Scenario, exchange, get, wait_log,
                                write_extra_docs)
from harness.tracer import script


def traced_httpd(make_httpd, mpm):
    h = make_httpd(mpm, extra=EXTRA)
    write_extra_docs(h)
    return h


@pytest.mark.parametrize("mpm", MPMS)
def test_request_probes_alone_carry_conn_ids(bpftrace, make_httpd, mpm):
    h = traced_httpd(make_httpd, mpm)
    t = bpftrace(script=script(["request__start", "request__done"]))
    subprocess.run(["nghttp", "-n"] + [h.url(p) for p in H2_PATHS], check=True, timeout=30)
    sc = Scenario("keepalive")
    exchange(h, sc, [get("/static.html?k=1"), get("/static.html?k=2")])
    wait_log(h, lambda e: e["query"] == "?h2=4")
    ev = t.stop()
    assert not ev.conn_starts and not ev.conn_dones
    h2 = {d["conn_id"] for d in ev.dones.values() if d["protocol"] == "HTTP/2.0"}
    h1 = {d["conn_id"] for d in ev.dones.values() if d["protocol"] == "HTTP/1.1"}
    assert len(ev.dones) == len(H2_PATHS) + 2
    assert len(h2) == len(h1) == 1 and 0 not in h2 | h1 and h2 != h1
    assert {s["conn_id"] for s in ev.starts.values()} == h2 | h1


@pytest.mark.parametrize("mpm", MPMS)
def test_conn_probes_alone_count_requests(bpftrace, make_httpd, mpm):
    h = traced_httpd(make_httpd, mpm)
    t = bpftrace(script=script(["conn__start", "conn__done"]))
    keep, bad = Scenario("keepalive"), Scenario("bad_request_400")
    exchange(h, keep, [get("/static.html"), get("/dir/"), get("/nope.html")])
    exchange(h, bad, [b"GET /bad\x01path HTTP/1.1\r\nHost: x\r\n\r\n"])
    ev = t.stop()
    assert not ev.dones and not ev.starts
    by_port = {c["peer_port"]: i for i, c in ev.conn_starts.items()}
    assert sorted(by_port) == sorted([keep.port, bad.port])
    done = {port: ev.conn_dones[i] for port, i in by_port.items()}
    assert (done[keep.port]["requests"], done[bad.port]["requests"]) == (3, 1)
    assert (done[keep.port]["bytes_in"], done[keep.port]["bytes_out"]) == (keep.sent,
                                                                             keep.received)
