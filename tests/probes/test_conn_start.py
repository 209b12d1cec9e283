"""httpd:::conn-start on a real Apache under each MPM, from the traced run
every probe file shares (harness/traced_run.py, recorded once per MPM): for
each scenario, its connection's conn-start with the client's address and
port and the server's, IPv4, IPv6 and HTTP/2 alike."""
import pytest

from harness.traced_run import NAMES, scenario, scenario_conn


@pytest.mark.parametrize("name", NAMES)
def test_arguments(run, name):
    """Every argument of the conn-start of the scenario's connection."""
    sc = scenario(run, name)
    ev = run.events
    cid = scenario_conn(run, sc)
    cs = ev.conn_starts[cid]
    assert (cs["peer_ip"], cs["local_ip"], cs["local_port"]) == (sc.ip, sc.ip, run.h.port)
    if sc.port is not None:
        assert cs["peer_port"] == sc.port
