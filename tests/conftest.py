"""Fixtures for every test folder: a real Apache with mod_dtprovider and a
real tracer. Outside CI a machine that cannot trace skips with a one-line
reason; with CI=true it fails, so tracing tests always run in CI
(harness.require_tracing)."""
import os

import pytest

from harness import require_tracing
from harness.httpd import MODULE, Httpd
from harness.httpdtrace import Httpdtrace
from harness.tracer import Bpftrace


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
    harness/tracer.py); any still running at the end of the test is stopped."""
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
    has attached (see harness/httpdtrace.py); any still running at the end of
    the test is killed."""
    started = []

    def make(*args):
        t = Httpdtrace(*args)
        started.append(t)
        return t.start()

    yield make
    for t in started:
        t.kill()
