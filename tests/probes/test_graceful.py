"""Probes keep firing across a graceful restart (SIGUSR1) under load.

A graceful restart unloads and reloads the module in the parent and replaces
the children; the tracer, attached once by the module's path, must keep
seeing every request: those the old children finish and those the new ones
serve. bpftrace counts in maps here (exact, never dropped, unlike printed
lines under wrk's load) and prints them every 500 ms as well as at exit: the
last print after the traffic stopped is exact even on a run where bpftrace
is slow to exit and gets killed (seen once under load).
"""
import re
import subprocess
import time

import pytest

from harness import MPMS

COUNT_SCRIPT = r'''
usdt:@SO@:httpd:request__start { @starts = count(); }
usdt:@SO@:httpd:request__done
{
	@dones = count();
	@by_pid[pid] = count();
	@min_id = min(arg0);
	@max_id = max(arg0);
}
usdt:@SO@:httpd:conn__start { @conns = count(); }
usdt:@SO@:httpd:conn__done { @conn_dones = count(); @conn_requests = sum(arg1); }
interval:ms:500
{
	print(@starts); print(@dones); print(@by_pid); print(@min_id); print(@max_id);
	print(@conns); print(@conn_dones); print(@conn_requests);
}
'''
AFTER = 10      # requests sent once the old generation is gone


def maps(text):
    """bpftrace's map prints: {"@name": n} and {"@name": {key: n}}, the
    last print of each winning."""
    out = {}
    for name, key, val in re.findall(r"^(@\w+)(?:\[(\d+)\])?: (\d+)$", text, re.M):
        if key:
            out.setdefault(name, {})[int(key)] = int(val)
        else:
            out[name] = int(val)
    return out


def wait_for(what, cond, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def settled_log(h):
    """The access log once it stopped growing for a second (the event MPM
    may log a request after its response)."""
    n, entries = -1, []
    while len(entries) != n:
        n = len(entries)
        time.sleep(1.0)
        entries = h.access_entries()
    return entries


@pytest.mark.parametrize("mpm", MPMS)
def test_graceful_restart_under_load(bpftrace, make_httpd, mpm):
    h = make_httpd(mpm)
    t = bpftrace(script=COUNT_SCRIPT)
    old = set(h.children())
    wrk = subprocess.Popen(["wrk", "-t1", "-c4", "-d4s", h.url("/static.html")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(1.5)
    h.graceful()
    wait_for("a new generation of children", lambda: set(h.children()) - old)
    out, _ = wrk.communicate(timeout=60)
    assert wrk.returncode == 0, out
    wait_for("the old generation to exit", lambda: not set(h.children()) & old)
    subprocess.run(["curl", "-s", "-o", "/dev/null"] + [h.url("/static.html?after=%d" % i)
                                                        for i in range(AFTER)],
                   check=True, timeout=30)
    log = settled_log(h)
    t.stop(settle=1.0)      # at least one print after the log settled
    m = maps(t.raw())
    assert "@dones" in m, (t.describe(), t.raw()[-3000:])

    # the parent configured itself twice: start and graceful restart
    assert h.read_error_log().count("resuming normal operations") == 2
    # one request-done per access-log line, across the restart
    assert m["@dones"] == len(log) > AFTER
    assert m["@starts"] == sum(e["status"] not in ("400", "408", "414") for e in log)
    # the shared id counter survived the module's reload: ids 1..N
    assert (m["@min_id"], m["@max_id"]) == (1, m["@dones"])
    # both generations were traced; the requests sent after the old one was
    # gone were all traced, in new children
    by_pid = m["@by_pid"]
    assert sum(n for pid, n in by_pid.items() if pid in old) > 0
    assert sum(n for pid, n in by_pid.items() if pid not in old) >= AFTER
    assert sum(e["query"].startswith("?after=") for e in log) == AFTER
    # every connection (all accepted while traced) ended with a conn-done,
    # and their request counts add up to every request-done
    assert m["@conn_dones"] == m["@conns"] > 4
    assert m["@conn_requests"] == m["@dones"]
