"""Debian packages, as an operator meets them: `make deb` builds
libapache2-mod-dtprovider and httpdtrace in a clean copy of the tree; apt
installs them on this machine's own apache2, which enables the module the
Debian way (a2query says so); Debian's Apache, configured from
/etc/apache2/mods-enabled, loads it and logs its version, the version
`httpdtrace --version` says; the installed httpdtrace traces it with no -m;
lintian has nothing to say but what the closing note justifies; `apt-get
purge` leaves no file of theirs and the module disabled.

The machine is left as it was found, also when a step fails: the packages
are purged and the Apache stopped in the fixtures' finalizers. A module that
`make install` put in Apache's module folder would be overwritten and then
removed by the purge, so the test refuses to run beside one."""
import glob
import os
import re
import shutil
import subprocess
import time

import pytest

from harness import IN_CI, require_tracing
from harness.httpd import REPO, free_port
from harness.httpdtrace import Httpdtrace

PACKAGES = ["libapache2-mod-dtprovider", "httpdtrace"]
MODDIR = "/usr/lib/apache2/modules"
SO = os.path.join(MODDIR, "mod_dtprovider.so")
INSTALLED_TOOL = "/usr/sbin/httpdtrace"
APT_ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
# lintian: no error, no warning; what it would warn of and is justified is
# overridden in debian/*.lintian-overrides, each with its reason.


def version():
    with open(os.path.join(REPO, "debian", "changelog")) as f:
        return re.match(r"\S+ \(([^)-]+)", f.readline()).group(1)


def dpkg_installed(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True,
                       text=True)
    return r.returncode == 0 and r.stdout.startswith("install ok installed")


def purge():
    present = [p for p in PACKAGES if subprocess.run(
        ["dpkg-query", "-W", p], capture_output=True).returncode == 0]
    if present:
        subprocess.run(["apt-get", "purge", "-y", "-q"] + present, env=APT_ENV,
                       capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def debs(tmp_path_factory):
    """The two .deb files, built by `make deb` in a build folder of their own."""
    require_tracing()
    if not shutil.which("apt-get") or not shutil.which("a2query"):
        pytest.skip("not a Debian system with apache2")
    if any(dpkg_installed(p) for p in PACKAGES):
        pytest.fail("the packages are already installed: purge them first", pytrace=False)
    if os.path.exists(SO):
        why = "%s exists (a source install?): the purge would remove it" % SO
        if IN_CI:
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    build = str(tmp_path_factory.mktemp("debbuild"))
    r = subprocess.run(["make", "-C", REPO, "deb", "BUILD=" + build], capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    found = {p: glob.glob(os.path.join(build, "deb", "%s_%s-*.deb" % (p, version())))
             for p in PACKAGES}
    assert all(len(v) == 1 for v in found.values()), found
    return [found[p][0] for p in PACKAGES]


@pytest.fixture(scope="module")
def installed(debs):
    """Both packages installed with apt, as a user would; purged at the end
    whatever happened."""
    try:
        r = subprocess.run(["apt-get", "install", "-y", "-q"] + debs, env=APT_ENV,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        files = {}
        for p in PACKAGES:
            out = subprocess.run(["dpkg", "-L", p], capture_output=True, text=True,
                                 check=True).stdout.split("\n")
            files[p] = [f for f in out if f and not os.path.isdir(f)]
        yield files
    finally:
        purge()


def test_lintian_is_clean(debs):
    r = subprocess.run(["lintian", "--no-tag-display-limit"] + debs, capture_output=True,
                       text=True, timeout=600)
    tags = re.findall(r"^([EW]): \S+: (\S+)", r.stdout, re.M)
    assert [t for t in tags if t[0] == "E"] == [], r.stdout
    assert [t for t in tags if t[0] == "W"] == [], r.stdout


def test_httpdtrace_says_what_it_carries(debs):
    """The dashboard's Chart.js is built in: the package names its source."""
    r = subprocess.run(["dpkg-deb", "-f", debs[PACKAGES.index("httpdtrace")], "Built-Using"],
                       capture_output=True, text=True, check=True)
    src = subprocess.run(["dpkg-query", "-W", "-f", "${source:Package} (= ${source:Version})",
                          "libjs-chart.js"], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == src.stdout.strip() != ""


def test_module_enabled_the_debian_way(installed):
    r = subprocess.run(["a2query", "-m", "dtprovider"], capture_output=True, text=True)
    assert r.returncode == 0 and "enabled" in r.stdout, r.stdout + r.stderr
    assert os.path.islink("/etc/apache2/mods-enabled/dtprovider.load")
    assert SO in installed["libapache2-mod-dtprovider"]
    assert INSTALLED_TOOL in installed["httpdtrace"]
    assert "/lib/systemd/system/httpdtrace-exporter.service" in installed["httpdtrace"]
    # the unit is installed, not enabled
    assert not glob.glob("/etc/systemd/system/*.wants/httpdtrace-exporter.service")


@pytest.fixture
def system_apache(installed, tmp_path, tmp_path_factory):
    """Debian's apache2 with the modules /etc/apache2/mods-enabled loads
    (the MPM and ours among them), on a free loopback port, with its own
    pid file and logs; stopped at the end."""
    port = free_port()
    root = tmp_path / "srv"
    root.mkdir()
    (root / "index.html").write_text("hello from the system apache\n")
    # Apache's children run as www-data: every folder down to the root
    base = tmp_path_factory.getbasetemp()
    for d in (base.parent, base, tmp_path.parent, tmp_path, root):
        os.chmod(str(d), 0o755)
    conf = tmp_path / "apache2.conf"
    conf.write_text("\n".join([
        "ServerRoot /etc/apache2",
        "PidFile %s/apache2.pid" % tmp_path,
        "Mutex file:%s default" % tmp_path,
        "User www-data", "Group www-data",
        "ErrorLog %s/error.log" % tmp_path,
        "LogLevel info",
        "Include /etc/apache2/mods-enabled/*.load",
        "Include /etc/apache2/mods-enabled/*.conf",
        "Listen 127.0.0.1:%d" % port,
        "ServerName deb.test",
        "DocumentRoot %s" % root,
        "<Directory %s>" % root, "  Require all granted", "</Directory>",
        ""]))
    env = dict(os.environ, APACHE_RUN_DIR=str(tmp_path), APACHE_LOCK_DIR=str(tmp_path),
               APACHE_LOG_DIR=str(tmp_path), APACHE_RUN_USER="www-data",
               APACHE_RUN_GROUP="www-data", APACHE_PID_FILE=str(tmp_path / "apache2.pid"))
    proc = subprocess.Popen(["apache2", "-f", str(conf), "-DFOREGROUND"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    log = tmp_path / "error.log"
    try:
        deadline = time.monotonic() + 30
        while not (log.exists() and "resuming normal operations" in log.read_text()):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, log.read_text() if log.exists() else "no log"
            time.sleep(0.1)
        yield port, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


def test_installed_httpdtrace_traces_the_system_apache(system_apache):
    port, log = system_apache
    # one version: the module's start-up line and httpdtrace --version
    v = subprocess.run([INSTALLED_TOOL, "--version"], capture_output=True, text=True)
    assert v.stdout.strip() == "httpdtrace %s" % version()
    assert re.search(r"\[dtprovider:info\].*mod_dtprovider %s: httpd provider probes ready"
                     % re.escape(version()), log.read_text()), log.read_text()
    t = Httpdtrace("requests", "-j")
    t.args[0] = INSTALLED_TOOL          # the installed one, and no -m
    t.start()
    try:
        assert any(SO in line for line in t.err), t.err   # found by itself
        for i in range(3):
            r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                "http://127.0.0.1:%d/?n=%d" % (port, i)],
                               capture_output=True, text=True, timeout=30)
            assert r.stdout == "200"
        deadline = time.monotonic() + 30
        while len([l for l in t.out if '"type":"request"' in l]) < 3:
            assert time.monotonic() < deadline, t.out
            time.sleep(0.05)
    finally:
        t.stop()
    reqs = t.json()
    assert [(o["method"], o["uri"], o["status"], o["vhost"], o["local_port"]) for o in reqs] \
        == [("GET", "/", 200, "deb.test", port)] * 3
    assert all((o["version"], o["size"]) == (2, 160) for o in reqs)


def test_purge_leaves_nothing(installed):
    """Runs last in this file (pytest keeps the order): purge, then look."""
    purge()
    for p in PACKAGES:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True,
                           text=True)
        # unknown to dpkg, or known and purged (no config files kept)
        assert r.returncode != 0 or r.stdout.split()[-1] == "not-installed", (p, r.stdout)
    left = [f for files in installed.values() for f in files if os.path.lexists(f)]
    assert left == []
    assert not os.path.lexists("/etc/apache2/mods-enabled/dtprovider.load")
    assert not os.path.lexists("/etc/apache2/mods-available/dtprovider.load")
    r = subprocess.run(["a2query", "-m", "dtprovider"], capture_output=True, text=True)
    assert r.returncode != 0, r.stdout
