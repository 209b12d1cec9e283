"""The smallest end-to-end proof: a request traced on each MPM."""
import subprocess

import pytest

from harness import MPMS


@pytest.mark.parametrize("mpm", MPMS)
def test_one_request_each_probe(bpftrace, make_httpd, mpm):
    h = make_httpd(mpm)
    t = bpftrace()
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                          h.url("/static.html?x=1")], capture_output=True, text=True)
    assert out.stdout == "200"
    h.wait_access_lines(1)
    ev = t.stop()
    assert len(ev.starts) == 1 and len(ev.dones) == 1
    (rid, d), = ev.dones.items()
    assert rid in ev.starts
    assert (d["status"], d["method"], d["uri"], d["query"]) == (200, "GET", "/static.html", "x=1")
    assert d["bytes_out"] == 406
    assert len(ev.conn_starts) == 1 and len(ev.conn_dones) == 1
    (cid, c), = ev.conn_dones.items()
    assert c["requests"] == 1 and d["conn_id"] == cid
