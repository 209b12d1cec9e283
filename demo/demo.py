"""make demo: mod_dtprovider on a private Apache, traced while it serves.

Starts Debian's apache2 with the module on 127.0.0.1:8080 and [::1]:8080
(DEMO_PORT overrides), with its own config, logs and PidFile under
build/demo/ (the tests' Apache fixture, tests/harness/httpd.py, writes
them: one config for both; hence PYTHONPATH=tests, as `make demo` runs it),
sends mixed traffic (200, 404, a redirect, a POST, IPv6) while a viewer
prints each request as it finishes, then more traffic under a latency
histogram. Meanwhile `httpdtrace exporter` serves its live dashboard on
127.0.0.1:9718 (DEMO_DASH_PORT overrides; a free port if that is taken)
for the whole demo: its URL is printed first. Whatever it started is
stopped on the
way out: at the end, on an error, on Ctrl-C or SIGTERM. Needs no terminal.

The viewers are the VIEWERS below: httpdtrace commands that print until
SIGINT. The bpftrace scripts in scripts/bpftrace/ show the same views
(requests.bt, latency.bt) for those who prefer bpftrace.
"""
import errno
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from harness.httpd import MODULE, Httpd, free_port
from harness.httpdtrace import READY, TOOL
from harness.tracer import interrupt

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PORT = int(os.environ.get("DEMO_PORT", "8080"))
DASH_PORT = int(os.environ.get("DEMO_DASH_PORT", "9718"))
ROOT = os.path.join(REPO, "build", "demo")

# (title, command, requests to send while it runs, pause between requests)
VIEWERS = [
    ("every request as Apache finishes it",
     [TOOL, "requests", "-m", MODULE], 12, 0.25),
    ("latency of 300 requests, log2 histogram in microseconds (at Ctrl-C)",
     [TOOL, "latency", "-m", MODULE], 300, 0),
]

# The sample traffic, round robin: (method, path, body, over IPv6).
TRAFFIC = [
    ("GET", "/", None, False),              # 200, DirectoryIndex
    ("GET", "/static.html", None, False),   # 200, static file
    ("GET", "/missing", None, False),       # 404, ErrorDocument
    ("GET", "/dir", None, False),           # 301 redirect to /dir/
    ("POST", "/post.lua", "name=demo&x=1", False),  # 200, mod_lua reads the body
    ("GET", "/static.html", None, True),    # 200 over IPv6
]


def say(text):
    print(text, flush=True)


def fail(text):
    say("make demo: " + text)
    sys.exit(1)


# ---------------------------------------------------------------------------
# Preconditions
# ---------------------------------------------------------------------------
def bind_error(host, port):
    """The OSError binding host:port gives, or None if it is free. With
    SO_REUSEADDR, as Apache binds: the demo's own connections of a minute
    ago (TIME-WAIT) do not keep Apache from listening, so they must not make
    the port look taken either."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        return None
    except OSError as e:
        return e
    finally:
        s.close()


def check_port():
    """Fail unless PORT is free on both addresses Apache will listen on; say
    which port is free instead."""
    for host in ("127.0.0.1", "::1"):
        e = bind_error(host, PORT)
        if e is None:
            continue
        if e.errno != errno.EADDRINUSE:
            fail("cannot listen on %s (%s): the demo's Apache listens on "
                 "127.0.0.1 and ::1" % (host, e.strerror))
        free = next((p for p in range(PORT + 1, min(PORT + 200, 65536))
                     if bind_error("127.0.0.1", p) is None and bind_error("::1", p) is None),
                    None)
        fail("port %d on %s is taken (%s); stop what listens there "
             "(ss -ltnp 'sport = :%d')%s"
             % (PORT, host, e.strerror, PORT,
                " or run: DEMO_PORT=%d make demo" % free if free else ""))


def reachable_by_others(path):
    """True if every folder above `path` lets other users (Apache's children
    run as www-data) pass."""
    path = os.path.abspath(path)
    while True:
        if not os.stat(path).st_mode & 0o001:
            return False
        parent = os.path.dirname(path)
        if parent == path:
            return True
        path = parent


def check_tracing():
    if os.geteuid() != 0:
        fail("tracing needs root; run: sudo make demo")
    if not shutil.which("apache2"):
        fail("apache2 is not installed; run: make check-deps")
    if not os.path.exists(TOOL):
        fail("%s is not built; run: make" % TOOL)


# ---------------------------------------------------------------------------
# Traffic and viewers
# ---------------------------------------------------------------------------
def send(n, pause, first=0):
    """Send n requests of TRAFFIC (from its `first`), each on its own
    connection."""
    for i in range(first, first + n):
        method, path, body, v6 = TRAFFIC[i % len(TRAFFIC)]
        conn = http.client.HTTPConnection("::1" if v6 else "127.0.0.1", PORT, timeout=10)
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        conn.request(method, path, body=body, headers=headers)
        conn.getresponse().read()
        conn.close()
        time.sleep(pause)


class Viewer:
    """A tracing command whose stdout is shown as it comes; its stderr only
    if it fails. It is ready once it says "httpdtrace: tracing N probes"."""

    def __init__(self, argv):
        self.argv = argv
        self.proc = None
        self.err = []
        self.ready = threading.Event()

    def start(self, timeout=60):
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     text=True)
        threading.Thread(target=self._show, daemon=True).start()
        threading.Thread(target=self._errors, daemon=True).start()
        deadline = time.time() + timeout
        while not self.ready.wait(0.1):
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                fail("%s did not start:\n%s" % (" ".join(self.argv), "".join(self.err)))

    def _show(self):
        for line in self.proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()

    def _errors(self):
        for line in self.proc.stderr:
            self.err.append(line)
            if READY.match(line):
                self.ready.set()

    def stop(self):
        """SIGINT, as Ctrl-C would (latency prints its histogram then)."""
        if self.proc is not None:
            interrupt(self.proc)
            time.sleep(0.2)     # the reader thread prints the last lines


SLOW_LUA = ("function handle(r)\n"
            "  os.execute('sleep 3')\n"
            "  r:puts('slow\\n')\n"
            "  return apache2.OK\n"
            "end\n")
TOP_SECONDS = 20


def show_top(h):
    """httpdtrace top: full screen for TOP_SECONDS (q ends it sooner) when
    stdin and stdout are a terminal, else one `top -b` snapshot. Traffic,
    with a slow request now and then (in flight for 3 s), runs meanwhile."""
    with open(os.path.join(h.docroot, "slow.lua"), "w") as f:
        f.write(SLOW_LUA)
    os.chmod(os.path.join(h.docroot, "slow.lua"), 0o644)
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    done = threading.Event()

    def traffic():
        i = 0
        while not done.is_set():
            if i % 40 == 0:
                threading.Thread(target=send_slow, daemon=True).start()
            send(1, 0.05, first=i)
            i += 1

    def send_slow():
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
            conn.request("GET", "/slow.lua")
            conn.getresponse().read()
            conn.close()
        except (OSError, http.client.HTTPException):
            pass                # Apache stopped meanwhile

    if tty:
        argv = [TOOL, "top", "-m", MODULE, "-d", "1", "-n", str(TOP_SECONDS)]
        say("\n== httpdtrace top, full screen for %d s (q quits sooner; h for the keys)"
            % TOP_SECONDS)
        time.sleep(2)
    else:
        argv = [TOOL, "top", "-m", MODULE, "-b", "-d", "4", "-n", "1"]
        say("\n== httpdtrace top -b: one snapshot after 4 s of traffic")
    proc = subprocess.Popen(argv, stderr=None if tty else subprocess.PIPE, text=True)
    if tty:
        time.sleep(1.0)         # the attach; requests before it are not counted
    else:
        for line in proc.stderr:    # "httpdtrace: tracing N probes ..."
            if READY.match(line):
                break
        threading.Thread(target=proc.stderr.read, daemon=True).start()
    t = threading.Thread(target=traffic, daemon=True)
    t.start()
    proc.wait()
    done.set()
    t.join(15)
    if proc.returncode != 0:
        fail("httpdtrace top failed (exit %d)" % proc.returncode)


def show_exporter():
    """httpdtrace exporter: one scrape of /metrics after some traffic, the
    request counts and the connection figures of it."""
    port = free_port()
    argv = [TOOL, "exporter", "-m", MODULE, "--listen", "127.0.0.1:%d" % port]
    say("\n== httpdtrace exporter: Prometheus metrics, counted in the kernel: %s"
        % " ".join(os.path.relpath(a, REPO) if a.startswith(REPO) else a for a in argv))
    viewer = Viewer(argv)
    viewer.start()
    try:
        send(len(TRAFFIC) * 2, 0)
        time.sleep(1.0)     # the event MPM may log after responding
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
            text = r.read().decode()
        say("$ curl -s http://127.0.0.1:%d/metrics  (the _count lines, connections)" % port)
        for line in text.splitlines():
            if line.startswith(("http_server_request_duration_seconds_count",
                                "http_server_active_requests", "httpd_connections_opened",
                                "httpd_connections_open ")):
                say(line)
    finally:
        viewer.stop()
    if viewer.proc.returncode != 0:
        fail("httpdtrace exporter failed:\n%s" % "".join(viewer.err))


def start_dashboard():
    """httpdtrace exporter for the demo's whole length: its dashboard's URL,
    once it answers. Returns the Viewer."""
    port = DASH_PORT if bind_error("127.0.0.1", DASH_PORT) is None else free_port()
    viewer = Viewer([TOOL, "exporter", "-m", MODULE, "--listen", "127.0.0.1:%d" % port])
    viewer.start()
    with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=10) as r:
        if r.status != 200:
            fail("the dashboard did not answer: HTTP %d" % r.status)
    say("== live dashboard: http://127.0.0.1:%d/ (httpdtrace exporter; open it in a "
        "browser: it is up until the demo ends)" % port)
    return viewer


def on_signal(signum, frame):
    say("\nmake demo: %s; stopping what it started" % signal.Signals(signum).name)
    raise SystemExit(128 + signum)


def main():
    check_tracing()
    check_port()
    if not os.path.exists(MODULE):
        fail("%s is not built; run: make" % MODULE)
    # Also when started with SIGINT ignored (a background job of a script).
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    os.makedirs(ROOT, exist_ok=True)
    os.chmod(ROOT, 0o755)
    h = Httpd(ROOT, mpm="event", port=PORT, servername="demo.local")
    tmp_docroot = None
    if not reachable_by_others(ROOT):
        tmp_docroot = tempfile.mkdtemp(prefix="mod_dtprovider-demo-")
        os.chmod(tmp_docroot, 0o755)
        h.docroot = tmp_docroot
    viewer = dashboard = None
    try:
        say("== Apache with mod_dtprovider on http://127.0.0.1:%d/ (config %s)" % (PORT, h.conf))
        h.start()
        dashboard = start_dashboard()
        for title, argv, n, pause in VIEWERS:
            say("\n== %s: %s" % (title, " ".join(os.path.relpath(a, REPO)
                                                if a.startswith(REPO) else a for a in argv)))
            viewer = Viewer(argv)
            viewer.start()
            send(n, pause)
            time.sleep(1.0)     # the event MPM may log after responding
            viewer.stop()
            if viewer.proc.returncode != 0:
                fail("%s failed:\n%s" % (argv[0], "".join(viewer.err)))
        viewer = None
        show_exporter()
        show_top(h)
        say("\n== done: %d requests traced; stopping Apache"
            % (sum(v[2] for v in VIEWERS) + len(TRAFFIC) * 2))
    except RuntimeError as e:
        fail(str(e))
    finally:
        if viewer is not None:
            viewer.stop()
        if dashboard is not None:
            dashboard.stop()
        h.stop()
        if tmp_docroot:
            shutil.rmtree(tmp_docroot, ignore_errors=True)


if __name__ == "__main__":
    main()
