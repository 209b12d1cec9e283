"""httpdtrace list against real Apaches: pids, children, binary, version,
MPM, module, probes and which are enabled, checked against the fixture and
against what a live tracer does. Other Apaches may run on the machine: each
test looks only at the servers it started."""
import json
import os
import re
import subprocess

import pytest

from harness import MPMS
from harness.httpd import MODULE, REPO
from harness.httpdtrace import TOOL, run


def provider_probes():
    """The probes module/httpd_provider.d defines, by their C names."""
    with open(os.path.join(REPO, "module", "httpd_provider.d")) as f:
        return re.findall(r"^\s*probe\s+(\w+)\s*\(", f.read(), re.M)


PROBES = provider_probes()


def apache_version():
    out = subprocess.run(["apache2", "-v"], capture_output=True, text=True).stdout
    return re.search(r"Server version: (\S.*)", out).group(1).strip()


def listed(h, *args):
    """The JSON object `list` gives for server h, with its children read
    before and after (retried until Apache was not forking meanwhile)."""
    for _ in range(5):
        before = sorted(h.children())
        r = run("list", "-j", *args)
        after = sorted(h.children())
        if before == after:
            break
    assert r.returncode == 0, r.stderr
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    mine = [o for o in objs if o["pid"] == h.proc.pid]
    assert len(mine) == 1, r.stdout
    assert all(o["pid"] not in before for o in objs)  # children are not servers
    return mine[0], after


@pytest.mark.parametrize("mpm", MPMS)
def test_list_matches_fixture(tracing, make_httpd, mpm):
    h = make_httpd(mpm)
    o, children = listed(h)
    assert sorted(o["children"]) == children and len(children) >= 2
    assert o["binary"] == os.path.realpath("/usr/sbin/apache2")
    assert o["version"] == apache_version()
    assert o["mpm"] == mpm
    assert o["module"] == os.path.realpath(MODULE)
    assert sorted(o["probes"]) == sorted(PROBES)
    assert o["enabled"] == []


def test_list_human_output(tracing, make_httpd):
    h = make_httpd("worker")
    r = run("list", "-p", h.proc.pid)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    n = len(h.children())
    assert lines[0] == "%d: %s, mpm worker, %d children" % (h.proc.pid, apache_version(), n)
    assert lines[1] == "  binary:   " + os.path.realpath("/usr/sbin/apache2")
    assert lines[2] == "  module:   " + os.path.realpath(MODULE)
    words = lines[3].split()
    assert words[:2] == ["probes:", str(len(PROBES))] and sorted(words[2:]) == sorted(PROBES)
    assert lines[4] == "  enabled:  none"
    assert lines[5].split()[0] == "children:" and len(lines[5].split()) == n + 1
    assert len(lines) == 6


def test_list_shows_enabled_probes(httpdtrace, make_httpd):
    """While `requests` is attached its probe's semaphore is up in the
    parent; after it exits, down again."""
    h = make_httpd("event")
    t = httpdtrace("requests", "-m", MODULE)
    o, _ = listed(h)
    assert o["enabled"] == ["request__done"]
    t.stop(settle=0)
    assert t.rc == 0, t.describe()
    o, _ = listed(h)
    assert o["enabled"] == []


def test_list_filters(tracing, make_httpd):
    a = make_httpd("event")
    b = make_httpd("prefork")
    for h in (a, b):
        for pid in (h.proc.pid, h.children()[0]):
            r = run("list", "-j", "-p", pid)
            assert r.returncode == 0, r.stderr
            assert [json.loads(x)["pid"] for x in r.stdout.splitlines()] == [h.proc.pid]
    r = run("list", "-j", "-m", MODULE)
    pids = [json.loads(x)["pid"] for x in r.stdout.splitlines()]
    assert a.proc.pid in pids and b.proc.pid in pids


def test_list_none_found_says_what_to_do(tracing):
    r = run("list", "-p", os.getpid())
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == ("httpdtrace: no running Apache has mod_dtprovider.so mapped in that "
                        "process: load it (a2enmod dtprovider, then restart Apache)\n")
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", TOOL,
                        "list", "-p", "1"], capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.endswith("restart Apache), or run as root to see every process\n")


def test_list_help():
    r = run("list", "--help")
    assert r.returncode == 0
    assert "USAGE: httpdtrace list" in r.stdout and "EXAMPLES:" in r.stdout
