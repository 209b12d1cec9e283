"""httpd:::request-done on a real Apache under each MPM, from the traced run
every probe file shares (harness/traced_run.py, recorded once per MPM): for
each scenario, every argument of every request-done its connection fired,
the info struct (arg5) included, against what the client did; and one
request-done per access-log line, equal to it field by field."""
import collections
import re

import pytest

from harness.traced_run import NAMES, scenario, scenario_conn, scenario_dones


# ---------------------------------------------------------------------------
# Every argument, for each scenario of the shared traced run
# ---------------------------------------------------------------------------

def check_done(run, sc, cid, d, exp):
    ev, h = run.events, run.h
    got = {k: d[k] for k in exp if k != "start"}
    want = {k: v for k, v in exp.items() if k != "start"}
    assert got == want, "request %d" % d["id"]
    assert (d["conn_id"], d["local_port"]) == (cid, h.port)
    assert d["peer_port"] == ev.conn_starts[cid]["peer_port"]
    # the info struct agrees with the flat arguments
    assert (d["version"], d["size"]) == (2, 160)
    assert (d["info_id"], d["info_status"], d["info_latency_us"]) == \
        (d["id"], d["status"], d["latency_us"])
    assert (d["info_method"], d["info_uri"]) == (d["method"], d["uri"])
    # the request lived inside the client's window (same clock: both are
    # CLOCK_REALTIME microseconds), so 0 < latency < the client's wall time
    t0, t1 = int(sc.t0 * 1e6), int(sc.t1 * 1e6) + 1
    assert d["latency_us"] > 0
    assert t0 <= d["start_us"] and d["start_us"] + d["latency_us"] <= t1
    assert d["latency_us"] < t1 - t0


@pytest.mark.parametrize("name", NAMES)
def test_arguments(run, name):
    """Every argument of every request-done the scenario's connection fired."""
    sc = scenario(run, name)
    cid = scenario_conn(run, sc)
    for d, exp in scenario_dones(run, sc, cid):
        check_done(run, sc, cid, d, exp)


# ---------------------------------------------------------------------------
# The access log, field by field
# ---------------------------------------------------------------------------

# %D is read after the probe's latency, from the same clock (apr_time_now)
# and the same start (r->request_time): mod_log_config's log_transaction hook
# runs after ours (REALLY_FIRST) in the same run of the hook. The difference is
# the time between two hook functions on one thread, tens of microseconds plus
# the probe's own cost, unless the thread is preempted: 100 ms bounds that on
# a loaded 2-vCPU machine and still catches a wrong clock or start (seconds,
# or the whole request).
LATENCY_TOLERANCE_US = 100000


def unlog(v):
    """A field as ap_escape_logitem wrote it, unescaped; "-" is empty."""
    if v == "-":
        return ""
    v = re.sub(r"\\x([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), v)
    return v.replace('\\"', '"').replace("\\\\", "\\")


def log_key(e):
    """An access-log line in the probes' terms."""
    uri = unlog(e["uri"])
    words = unlog(e["request_line"]).split(" ")
    if len(words) == 3:
        asked = words[1].split("?")[0]
        # mod_dir's DirectoryIndex rewrites r->uri in place and %U logs the
        # index file; the probes keep the uri the client asked for.
        if asked.endswith("/") and uri.startswith(asked) and uri != asked:
            uri = asked
    return (int(e["status"]), unlog(e["method"]), uri, e["query"][1:],
            int(e["bytes_out"]), e["protocol"], e["vhost"], e["peer_ip"],
            int(e["peer_port"]), e["local_ip"], int(e["local_port"]), unlog(e["handler"]))


def done_key(d):
    # %{remote}p is the port of mod_remoteip's useragent address: 0 once a
    # header replaced it. The probes' peer_port stays the connection's.
    port = d["peer_port"] if d["useragent_ip"] == d["peer_ip"] else 0
    return (d["status"], d["method"], d["uri"], d["query"], d["bytes_out"], d["protocol"],
            d["vhost"], d["peer_ip"], port, d["local_ip"], d["local_port"], d["handler"])


def test_access_log_matches(run):
    """One request-done per access-log line, equal field by field (status,
    method, uri, query, bytes, protocol, vhost, peer and local address and
    port, handler), and latency_us just below %D."""
    ev = run.events
    assert len(ev.dones) == len(run.log)
    by_key = collections.defaultdict(lambda: ([], []))
    for d in ev.dones.values():
        by_key[done_key(d)][0].append(d["latency_us"])
    for e in run.log:
        by_key[log_key(e)][1].append(int(e["latency_us"]))
    unmatched = {k: v for k, v in by_key.items() if len(v[0]) != len(v[1])}
    assert not unmatched, "probes vs log lines per key"
    for lat, logged in by_key.values():
        for mine, theirs in zip(sorted(lat), sorted(logged)):
            assert 0 <= theirs - mine <= LATENCY_TOLERANCE_US, (mine, theirs)
