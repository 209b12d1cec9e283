"""The probes' is-enabled semaphores in a real Apache under each MPM, from
the traced run every probe file shares (harness/traced_run.py, recorded once
per MPM): read from /proc/PID/mem (harness/semaphores.py) in the parent and
every child before the tracer attached, while it was attached and after it
detached."""
import os
import re

from harness import semaphores
from harness.httpd import MODULE, REPO


def provider_probes():
    """Every probe module/httpd_provider.d defines."""
    with open(os.path.join(REPO, "module", "httpd_provider.d")) as f:
        return set(re.findall(r"^\s*probe (\w+)\(", f.read(), re.M))


def test_semaphores(run):
    """Every probe's semaphore, read from /proc/PID/mem in the parent and
    every child: 0 before the attach; while bpftrace is attached, non-zero for
    the probes it attached and still 0 for the others; 0 again after it
    detached."""
    probes = provider_probes()
    traced = {"request__start", "request__done", "conn__start", "conn__done"}
    assert traced <= probes and set(semaphores.semaphores(MODULE)) == probes
    for phase in ("before", "attached", "detached"):
        live = {pid: v for pid, v in run.sems[phase].items() if v is not None}
        assert run.h.proc.pid in live and len(live) >= 2, (phase, live)
        for pid, vals in live.items():
            assert set(vals) == probes, (phase, pid)
            on = {p for p, v in vals.items() if v != 0}
            assert on == (traced if phase == "attached" else set()), (phase, pid, vals)

