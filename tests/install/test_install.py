"""`make install DESTDIR=... PREFIX=...`: every file lands where apxs and
PREFIX say, Debian's a2enmod accepts the installed dtprovider.load, and the
installed module still carries every probe with its semaphore."""
import os
import re
import shutil
import subprocess

import pytest

from harness.httpd import REPO

PREFIX = "/opt/dtp"


def apxs(var):
    return subprocess.run(["apxs", "-q", var], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture(scope="module")
def destdir(tmp_path_factory):
    if not shutil.which("apxs"):
        pytest.skip("apxs is not installed (make check-deps)")
    d = str(tmp_path_factory.mktemp("destdir"))
    subprocess.run(["make", "-C", REPO, "install", "DESTDIR=" + d, "PREFIX=" + PREFIX],
                   check=True, capture_output=True)
    return d


def installed(destdir):
    out = set()
    for dirpath, _, files in os.walk(destdir):
        for f in files:
            out.add(os.path.join(dirpath, f)[len(destdir):])
    return out


def test_files_land_where_apxs_and_prefix_say(destdir):
    libexec, sysconf = apxs("LIBEXECDIR"), apxs("SYSCONFDIR")
    share = PREFIX + "/share/mod_dtprovider/scripts"
    want = {
        libexec + "/mod_dtprovider.so",
        sysconf + "/mods-available/dtprovider.load",
        sysconf + "/mods-available/dtprovider.conf",
        PREFIX + "/include/mod_dtprovider.h",
        PREFIX + "/sbin/httpdtrace",
        PREFIX + "/lib/dtrace/httpd.d",
        PREFIX + "/share/doc/mod_dtprovider/README.md",
        PREFIX + "/share/doc/mod_dtprovider/probes.md",
        PREFIX + "/share/doc/mod_dtprovider/prometheus/prometheus.yml",
        PREFIX + "/share/doc/mod_dtprovider/prometheus/rules.yml",
        PREFIX + "/lib/systemd/system/httpdtrace-exporter.service",
    }
    want |= {share + "/bpftrace/" + f for f in os.listdir(os.path.join(REPO, "scripts", "bpftrace"))}
    want |= {share + "/dtrace/" + f for f in os.listdir(os.path.join(REPO, "scripts", "dtrace"))}
    want |= {PREFIX + "/share/man/man8/" + f for f in os.listdir(os.path.join(REPO, "docs", "man"))
             if f.endswith(".8")}
    assert installed(destdir) == want
    for f in want:
        if "/scripts/" in f or f.endswith("/httpdtrace"):
            assert os.access(destdir + f, os.X_OK), f


def test_load_file_names_the_installed_module(destdir):
    path = destdir + apxs("SYSCONFDIR") + "/mods-available/dtprovider.load"
    with open(path) as f:
        lines = [l for l in f.read().splitlines() if l and not l.startswith("#")]
    assert lines == ["LoadModule dtprovider_module %s/mod_dtprovider.so" % apxs("LIBEXECDIR")]


def test_a2enmod_enables_it(destdir):
    if not shutil.which("a2enmod"):
        pytest.skip("a2enmod is not installed (apache2)")
    confdir = destdir + apxs("SYSCONFDIR")
    os.makedirs(confdir + "/mods-enabled", exist_ok=True)
    subprocess.run(["a2enmod", "-q", "dtprovider"], check=True, capture_output=True,
                   env=dict(os.environ, APACHE_CONFDIR=confdir))
    for ext in ("load", "conf"):
        link = confdir + "/mods-enabled/dtprovider." + ext
        assert os.readlink(link) == "../mods-available/dtprovider." + ext


def test_installed_module_has_every_probe_with_a_semaphore(destdir):
    so = destdir + apxs("LIBEXECDIR") + "/mod_dtprovider.so"
    notes = subprocess.run(["readelf", "-n", so], capture_output=True, text=True,
                           check=True).stdout
    found = {}
    for m in re.finditer(r"Provider: (\S+)\s+Name: (\S+)\s+Location: \S+, Base: \S+, "
                         r"Semaphore: (0x[0-9a-f]+)", notes):
        found[(m.group(1), m.group(2))] = int(m.group(3), 16)
    with open(os.path.join(REPO, "module", "httpd_provider.d")) as f:
        declared = re.findall(r"^\s*probe\s+(\w+)\s*\(", f.read(), re.M)
    assert len(declared) >= 4
    assert set(found) == {("httpd", p) for p in declared}
    assert all(found.values())


def test_make_after_a_build_has_nothing_to_do(destdir):
    """The BPF skeletons are kept: a second `make` rebuilds nothing (make -q
    exits 0 when every target is up to date). `destdir` built everything."""
    r = subprocess.run(["make", "-C", REPO, "-q", "all"], capture_output=True, text=True)
    assert r.returncode == 0, subprocess.run(["make", "-C", REPO, "-n", "all"],
                                             capture_output=True, text=True).stdout[:2000]


def test_uninstall_removes_every_installed_file(tmp_path):
    """`make uninstall` with the same DESTDIR and PREFIX leaves no file of
    the install behind (the a2enmod links of the test above are not in this
    tree: it is a fresh one)."""
    if not shutil.which("apxs"):
        pytest.skip("apxs is not installed (make check-deps)")
    d = str(tmp_path)
    args = ["DESTDIR=" + d, "PREFIX=" + PREFIX]
    subprocess.run(["make", "-C", REPO, "install"] + args, check=True, capture_output=True)
    assert len(installed(d)) > 10
    r = subprocess.run(["make", "-C", REPO, "uninstall"] + args, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert installed(d) == set()


def test_exporter_unit_passes_systemd_analyze_verify(destdir, tmp_path):
    """The installed unit runs the installed httpdtrace on the installed
    module, as a user of its own with CAP_BPF and CAP_PERFMON, and systemd
    accepts it. verify wants ExecStart's binary and the man page to exist:
    the staged copy is checked with ExecStart pointed into DESTDIR and
    MANPATH at the staged man pages, nothing else changed."""
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    unit = destdir + PREFIX + "/lib/systemd/system/httpdtrace-exporter.service"
    with open(unit) as f:
        text = f.read()
    module = apxs("LIBEXECDIR") + "/mod_dtprovider.so"
    assert ("ExecStart=%s/sbin/httpdtrace exporter -m %s --listen 127.0.0.1:9718\n"
            % (PREFIX, module)) in text
    assert "DynamicUser=yes\n" in text
    assert "AmbientCapabilities=CAP_BPF CAP_PERFMON CAP_SYS_PTRACE\n" in text
    staged = tmp_path / "httpdtrace-exporter.service"
    staged.write_text(text.replace("ExecStart=" + PREFIX, "ExecStart=" + destdir + PREFIX))
    r = subprocess.run(["systemd-analyze", "verify", str(staged)], capture_output=True,
                       text=True, env=dict(os.environ, MANPATH=destdir + PREFIX + "/share/man"))
    assert r.returncode == 0 and not r.stdout + r.stderr, r.stdout + r.stderr


def test_prometheus_examples_pass_promtool(destdir):
    docs = destdir + PREFIX + "/share/doc/mod_dtprovider/prometheus"
    if not shutil.which("promtool"):
        pytest.fail("promtool is not installed (make check-deps)")
    r = subprocess.run(["promtool", "check", "rules", docs + "/rules.yml"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "SUCCESS: 5 rules found" in r.stdout, r.stdout + r.stderr
    r = subprocess.run(["promtool", "check", "config", docs + "/prometheus.yml"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
