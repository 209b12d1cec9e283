"""Fixtures for the integration tests: a real Apache with mod_dtprovider and a
real tracer. Outside CI a machine that cannot trace skips with a one-line
reason; with CI=true it fails, so tracing tests always run in CI."""
import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from httpd import MODULE, Httpd  # noqa: E402
from tracer import Bpftrace  # noqa: E402
from httpdtrace import TOOL as HTTPDTRACE, Httpdtrace  # noqa: E402

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
    why = tracing_unavailable()
    if why:
        if IN_CI:
            pytest.fail("CI=true and tracing is unavailable: " + why, pytrace=False)
        pytest.skip(why)


@pytest.fixture
def tracing():
    require_tracing()


@pytest.fixture
def make_httpd(tmp_path_factory):
    """Factory: make_httpd(mpm="event", extra="", module=MODULE) starts an
    Apache; every one started is stopped at the end of the test."""
    started = []
    # Apache's children run as www-data: the server root must be reachable.
    base = tmp_path_factory.getbasetemp()
    for d in (base.parent, base):
        os.chmod(str(d), 0o755)

    def make(mpm="event", extra="", module=MODULE, **kw):
        root = tmp_path_factory.mktemp("httpd-" + mpm)
        os.chmod(str(root), 0o755)
        h = Httpd(root, mpm=mpm, extra=extra, module=module, **kw)
        started.append(h)
        return h.start()

    yield make
    for h in started:
        h.stop()


@pytest.fixture
def bpftrace(tracing):
    """Factory: bpftrace(**kw) starts a Bpftrace attached to the module (see
    tracer.py); any still running at the end of the test is stopped."""
    started = []

    def make(**kw):
        t = Bpftrace(**kw)
        started.append(t)
        return t.start()

    yield make
    for t in started:
        if t.proc and t.proc.poll() is None:
            t.proc.kill()
            t.proc.wait()


@pytest.fixture
def httpdtrace(tracing):
    """Factory: httpdtrace(*args) starts `httpdtrace ARGS` and waits until it
    has attached (see httpdtrace.py); any still running at the end of the
    test is killed."""
    started = []

    def make(*args):
        t = Httpdtrace(*args)
        started.append(t)
        return t.start()

    yield make
    for t in started:
        t.kill()
