"""mod_dtprovider on a real Apache under each MPM, traced by a real tracer:
the traced run every probe file shares (harness/traced_run.py, recorded once
per MPM), checked as a whole here. Each probe's own arguments are checked in
the probe's file (test_request_start.py, test_request_done.py,
test_conn_start.py, test_conn_done.py), the semaphores in test_semaphores.py;
this file holds what spans the probes: the tracer lost nothing, ids are
unique and paired, where HTTP/2 streams run, and the untraced idle path.
"""
from harness.traced_run import IDLE_PATHS, NAMES, scenario, scenario_conn


def test_tracer_lost_nothing(run):
    """bpftrace prints "Lost N events" when its buffer overflows: then no
    count below could be trusted."""
    assert "Lost" not in run.tracer_output, run.tracer_output[-2000:]


def test_ids_unique_and_paired(run):
    """Each id fires each probe once. Ids come only from traced work, so the
    untraced traffic before the attach took none (the idle path creates no
    state): requests and connections are numbered 1..N with no gap. Every
    request-start has its request-done; every conn-start its conn-done."""
    ev = run.events
    assert all(n == 1 for n in ev.hits.values()), \
        [k for k, n in ev.hits.items() if n != 1]
    assert sorted(ev.dones) == list(range(1, len(ev.dones) + 1))
    assert set(ev.starts) <= set(ev.dones)
    assert sorted(ev.conn_starts) == list(range(1, len(ev.conn_starts) + 1))
    assert set(ev.conn_dones) == set(ev.conn_starts)
    played = [run.scenarios[n] for n in NAMES if n in run.scenarios]
    assert len(ev.conn_starts) == len(played)
    assert len(ev.dones) == sum(len(sc.expect) for sc in played)
    assert len(ev.starts) == sum(e["start"] for sc in played for e in sc.expect)


def test_h2_streams_process(run):
    """Where HTTP/2 streams run: in the process that accepted the connection,
    under every MPM. Prefork included: mod_http2 2.0.42 logs AH10034 ("not
    supported by mod_http2 ... the HTTP/2 protocol will be inactive") there,
    yet serves h2c prior knowledge, on its own worker threads in that child,
    so the streams' threads vary."""
    sc = scenario(run, "sc_h2")
    cid = scenario_conn(run, sc)
    ev = run.events
    pid = ev.conn_starts[cid]["pid"]
    dones = [d for d in ev.dones.values() if d["conn_id"] == cid]
    starts = [ev.starts[d["id"]] for d in dones]
    assert {d["pid"] for d in dones + starts} == {pid}
    assert {d["protocol"] for d in dones} == {"HTTP/2.0"}
    assert ("AH10034" in run.error_log) == (run.mpm == "prefork")


def test_idle_path(run):
    """Untraced, the module is invisible: the traffic before the attach was
    served and logged as usual, the error log has nothing from the module and
    no child died. That this traffic created no probe state is shown by
    test_ids_unique_and_paired: state comes only with an id, and the first
    traced request and connection got id 1."""
    got = sorted((e["request_line"], e["status"]) for e in run.idle)
    want = sorted([("GET %s HTTP/1.1" % p, "404" if "nope" in p else "200") for p in IDLE_PATHS]
                  + [("GET %s HTTP/2.0" % p, "404" if "nope" in p else "200")
                     for p in IDLE_PATHS])
    assert got == want
    err = run.error_log
    assert "dtprovider" not in err and "exit signal" not in err, err
