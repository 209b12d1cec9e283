"""The test harness of mod_dtprovider: what every test folder shares.

pytest.ini puts tests/ on the import path (`pythonpath`), so tests write
`from harness import MPMS` or `from harness.httpd import Httpd`;
bench/bench.py and demo/demo.py run with PYTHONPATH=tests (the Makefile sets
it) and import the same modules.

  httpd        Httpd: a private Apache on free loopback ports, module loaded
  tracer       Bpftrace: bpftrace attached by the module's path; Events
  httpdtrace   Httpdtrace: build/httpdtrace started and stopped as a user does
  semaphores   the probes' is-enabled semaphores read out of live processes
  handlers     request handlers with known behaviour (sleep, alloc, big file)
  traffic      known requests for the tools' tests (send, send_mix, VHOSTS)
  traced_run   the traced run tests/probes/ shares: scenarios, record(), Run
  phase_trace  bpftrace programs for request-phase and internal-redirect
  prometheus   Prometheus: a real Prometheus scraping given targets, queried

This file: the MPMs every MPM-wide test runs under, and whether this machine
can trace at all (tests/conftest.py's fixtures skip, or fail under CI=true).
"""
import os
import shutil

from harness.httpd import MODULE
from harness.httpdtrace import TOOL as HTTPDTRACE

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
MPMS = ["event", "worker", "prefork"]


def tracing_unavailable():
    """Why this machine cannot run the tracing tests, or None."""
    if os.geteuid() != 0:
        return "tracing needs root (CAP_BPF and CAP_PERFMON)"
    if not shutil.which("apache2"):
        return "apache2 is not installed (make check-deps)"
    if not shutil.which("bpftrace"):
        return "bpftrace is not installed (make check-deps)"
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        return "the kernel has no BTF (/sys/kernel/btf/vmlinux)"
    if not os.path.exists(MODULE):
        return "the module is not built (%s); run make" % MODULE
    if not os.path.exists(HTTPDTRACE):
        return "httpdtrace is not built (%s); run make" % HTTPDTRACE
    return None


def require_tracing():
    """Skip the calling test (fail it under CI=true) unless it can trace."""
    import pytest   # here, not above: bench.py and demo.py run without pytest
    why = tracing_unavailable()
    if why:
        if IN_CI:
            pytest.fail("CI=true and tracing is unavailable: " + why, pytrace=False)
        pytest.skip(why)
