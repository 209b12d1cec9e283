"""Reinstalling the module under a running Apache (make install, a package
upgrade): the server keeps running the copy it loaded, now "(deleted)" in
/proc/PID/maps. `httpdtrace list` says so and what to do, the tracing
commands trace that copy (through /proc/PID/map_files), with or without -m;
after a graceful restart the new file is the one mapped and traced."""
import json
import os
import shutil
import subprocess
import time

from harness.httpd import MODULE
from harness.httpdtrace import run
from harness.traffic import send


def reinstall(path):
    """What make install does: install(1) writes a new file in place of the
    old one, which running processes keep mapped."""
    subprocess.run(["install", "-m", "644", MODULE, path], check=True)


def replaced_in(pid, path):
    with open("/proc/%d/maps" % pid) as f:
        return any(line.rstrip().endswith(path + " (deleted)") for line in f)


def test_reinstall_under_a_running_server(httpdtrace, make_httpd, tmp_path):
    moddir = tmp_path / "modules"
    moddir.mkdir()
    os.chmod(str(tmp_path), 0o755)
    os.chmod(str(moddir), 0o755)
    so = str(moddir / "mod_dtprovider.so")
    shutil.copy(MODULE, so)
    os.chmod(so, 0o644)
    h = make_httpd("event", module=so)
    reinstall(so)
    assert all(replaced_in(pid, so) for pid in h.pids())

    # list: the server, its module as loaded, marked replaced, with a hint
    r = run("list", "-j", "-p", h.proc.pid)
    assert r.returncode == 0, r.stderr
    (o,) = [json.loads(l) for l in r.stdout.splitlines()]
    assert (o["pid"], o["module"], o["module_replaced"]) == (h.proc.pid, so, True)
    assert sorted(o["children"]) == sorted(h.children())
    assert len(o["probes"]) == 6
    text = run("list", "-p", h.proc.pid).stdout
    assert "replaced on disk since Apache loaded it" in text
    assert "apachectl graceful" in text

    # requests, with -m naming the file and without -m: the running copy
    for args in (["-m", so], []):
        t = httpdtrace("requests", "-j", *args)
        for _ in range(3):
            assert send(h, "GET", "/static.html") == 200
        h.wait_access_lines(3)
        t.stop()
        assert t.rc == 0, t.describe()
        assert len(t.json()) == 3, t.describe()
        warn = [l for l in t.err if "replaced on disk" in l]
        assert warn and "(pid %d)" % h.proc.pid in warn[0] and "apachectl graceful" in warn[0]
        assert "/proc/%d/map_files/" % h.proc.pid in warn[0], warn
        os.truncate(h.access_log, 0)

    # a graceful restart loads the new file: nothing is replaced any more
    old = set(h.children())
    h.graceful()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (set(h.children()) & old or replaced_in(h.proc.pid, so)):
        time.sleep(0.1)
    r = run("list", "-j", "-p", h.proc.pid)
    (o,) = [json.loads(l) for l in r.stdout.splitlines()]
    assert (o["module"], o["module_replaced"]) == (so, False)
    t = httpdtrace("requests", "-j", "-m", so)
    assert send(h, "GET", "/static.html") == 200
    h.wait_access_lines(1)
    t.stop()
    assert len(t.json()) == 1 and not [l for l in t.err if "replaced" in l]
