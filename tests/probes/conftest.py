"""The fixture of tests/probes/ beyond tests/conftest.py's: `run`, the traced
run of harness/traced_run.py under each MPM.

Several files check the same run (each probe's arguments in its own file),
so a run is recorded once per MPM for the whole session, by whichever file
asks first, and its Apache is stopped as soon as it is recorded: no server
outlives its recording or runs beside another test's. A recording that
failed fails every test that asks for it, with the first failure's
traceback, rather than being tried again.
"""
import traceback

import pytest

from harness import MPMS, require_tracing
from harness.traced_run import record


@pytest.fixture(scope="session")
def traced_runs():
    """{mpm: Run, or the traceback of its failed recording}."""
    return {}


@pytest.fixture(scope="module", params=MPMS)
def run(request, tmp_path_factory, traced_runs):
    require_tracing()
    mpm = request.param
    if mpm not in traced_runs:
        try:
            traced_runs[mpm] = record(mpm, tmp_path_factory)
        except Exception:
            traced_runs[mpm] = traceback.format_exc()
            raise
    if isinstance(traced_runs[mpm], str):
        pytest.fail("the %s run failed when first recorded:\n%s" % (mpm, traced_runs[mpm]),
                    pytrace=False)
    return traced_runs[mpm]
