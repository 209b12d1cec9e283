"""httpd:::request-start on a real Apache under each MPM, from the traced run
every probe file shares (harness/traced_run.py, recorded once per MPM): for
each scenario, every request-start its connection fired, argument by
argument equal to the same request's request-done (conn_id, method, uri,
the client address as mod_remoteip says, vhost); and none for a request
Apache refused before post_read_request (400, 408, 414)."""
import pytest

from harness.traced_run import NAMES, scenario, scenario_conn, scenario_dones


@pytest.mark.parametrize("name", NAMES)
def test_arguments(run, name):
    """Every argument of every request-start the scenario's connection fired."""
    sc = scenario(run, name)
    ev = run.events
    cid = scenario_conn(run, sc)
    for d, exp in scenario_dones(run, sc, cid):
        if exp["start"]:
            s = ev.starts[d["id"]]
            assert (s["conn_id"], s["method"], s["uri"], s["client_ip"], s["vhost"]) == \
                (cid, d["method"], d["uri"], d["useragent_ip"], d["vhost"])
        else:
            assert d["id"] not in ev.starts
