#!/usr/bin/python3
"""bench.py: what mod_dtprovider costs, measured side by side (`make bench`).

Four measurements, each against its own baseline taken in the same run:

  CPU         Apache instances that differ in one thing (no module; module
              idle; traced by each httpdtrace subcommand and by the peer a
              user would run instead: the bpftrace scripts, an access log of
              the same fields, mod_status with prometheus-apache-exporter)
              driven by wrk on loopback in alternating rounds. Per round and
              configuration, the CPU per request of Apache and of the tool
              (cpuacct cgroups, bench/cost.py) and of the tool's BPF programs
              (the kernel's BPF statistics); verdicts on medians with
              distribution-free intervals, "not resolved" when an interval
              straddles its target. req/s over "no module" is the second view.
              The exporter is also measured with 1 and with 10 dashboards
              reading its /events stream.
  callgrind   instructions per request the idle module adds (whole Apache in
              one process under callgrind, difference between two request
              counts, module vs no module) and per hook (inclusive counts of
              the module's hook functions).
  probe hit   bench/probe-hit.c fires request-done as the module does, untraced
              and under a counting bpftrace, against a bare uprobe on a 5-byte
              nop (the kernel's floor) and the 1-byte nop site of sys/sdt.h.
  footprint   each httpdtrace subcommand's own CPU share and RSS while Apache
              serves a held rate (wrk connections that each pause 1 ms between
              requests; the achieved rate is reported); the exporter is scraped
              every second meanwhile, as Prometheus would.
  series      the exporter's scrape time and RSS with 5,000 request label sets
              (statuses x methods x protocols sent to an Apache of its own).

It writes a Markdown report (bench/RESULTS.md by default) with the machine,
versions, tables and, for each target of the issue, met or missed and why.
`--smoke` runs everything briefly, writes the report under build/bench/ and
checks that every row was produced (no figure is asserted); it ends with
`N passed, N failed`. A httpdtrace subcommand that does not exist yet (no
src/<sub>.c and no binary) is reported as "not built yet", never faked.

Every Apache and tracer started here is stopped on the way out, errors and
signals included. Needs root (tracing), apache2, wrk, valgrind, bpftrace.
Its Apache and its semaphore reader are the tests' (tests/harness/httpd.py,
semaphores.py): it runs with PYTHONPATH=tests, as `make bench` runs it.
"""
import argparse
import http.client
import os
import platform
import pwd
import re
import shutil
import signal
import socket
import statistics
import urllib.request
import subprocess
import sys
import tempfile
import threading
import time

import cost
from harness import semaphores
from harness.httpd import BUILD, MODULE, Httpd, free_port

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

HTTPDTRACE = os.path.join(BUILD, "httpdtrace")
PROBE_HIT = os.path.join(BUILD, "bench", "probe-hit")
PROBE_HIT_NOP1 = os.path.join(BUILD, "bench", "probe-hit-nop1")
PATH = "/static.html"           # 406 bytes, as in the field notes
NOT_BUILT = "not built yet"

# Sizes: the full bench, and the smoke run of `make check`.
PROFILES = {
    "full": dict(rounds=8, seconds=3, warmup=2, threads=2, conns=16, scrapes=20,
                 hold_seconds=10, hold_rate=10000, cg_requests=(200, 1200),
                 cg_reps=3, hit_n=300000, hit_chunks=30, hit_reps=3),
    "smoke": dict(rounds=3, seconds=1, warmup=1, threads=2, conns=8, scrapes=3,
                  hold_seconds=2, hold_rate=2000, cg_requests=(10, 60),
                  cg_reps=1, hit_n=20000, hit_chunks=4, hit_reps=1),
}

# The throughput configurations: name, label, module loaded, access log on,
# tool attached (a TOOLS key; None: none). "base" comes first. Each of our
# tools has its peer in PEERS: what a user would run instead.
CONFIGS = [
    ("base", "no module", False, False, None),
    # The A/A control: what two identical instances differ by is what this
    # machine cannot resolve; verdicts on added CPU allow for it.
    ("base2", "no module, a second instance (A/A control)", False, False, None),
    ("idle", "module loaded, idle", True, False, None),
    ("latency", "httpdtrace latency", True, False, "latency"),
    ("latency_bt", "bpftrace latency.bt", True, False, "latency.bt"),
    ("requests", "httpdtrace requests -j > file", True, False, "requests"),
    ("requests_bt", "bpftrace requests.bt > file", True, False, "requests.bt"),
    ("accesslog", "access log of the same fields, no module", False, True, None),
    ("top", "httpdtrace top -b", True, False, "top"),
    ("exporter", "httpdtrace exporter, scraped every second", True, False, "exporter"),
    ("dash1", "httpdtrace exporter, scraped, 1 dashboard open", True, False, "exporter+1"),
    ("dash10", "httpdtrace exporter, scraped, 10 dashboards open", True, False, "exporter+10"),
    ("status", "mod_status (ExtendedStatus On) + prometheus-apache-exporter, scraped every "
     "second", False, False, "apache_exporter"),
]
# (ours, peer, what the target says): ours must cost less CPU per request.
PEERS = [
    ("latency", "latency_bt", "< its bpftrace script"),
    ("requests", "requests_bt", "< its bpftrace script"),
    ("requests", "accesslog", "≤ the access log writing the same fields"),
    ("exporter", "status", "≤ mod_status plus the Apache exporter"),
]
SCRIPTS = os.path.join(REPO, "scripts", "bpftrace")
# How each tool runs: its command (the module path goes after -m, or as the
# bpftrace script's $1), whether its stdout goes to a file, whether it
# serves /metrics on a port of its own (then it is scraped every second),
# whether it attaches to the module (ready once a probe is enabled), and how
# many dashboards read its /events meanwhile (each a stream read here, in
# this process: the exporter's CPU is what is measured).
TOOLS = {
    "latency": dict(cmd=["latency", "1"]),
    "requests": dict(cmd=["requests", "-j"], out=True),
    "top": dict(cmd=["top", "-b"], out=True),
    "exporter": dict(cmd=["exporter"], listen=True),
    # the same with pages reading its dashboard's stream (/events)
    "exporter+1": dict(cmd=["exporter"], listen=True, pages=1),
    "exporter+10": dict(cmd=["exporter"], listen=True, pages=10),
    "latency.bt": dict(cmd=["bpftrace", os.path.join(SCRIPTS, "latency.bt")]),
    "requests.bt": dict(cmd=["bpftrace", os.path.join(SCRIPTS, "requests.bt")], out=True),
    "apache_exporter": dict(cmd=["prometheus-apache-exporter"], listen=True, probes=False),
}
# The peer of `requests -j`: an access log with the fields its JSON carries
# (the request and connection ids excepted: Apache has no such field), one
# line a request, as mod_log_config writes it (unbuffered, one write each).
FULL_LOG_FORMAT = (r'%{begin:usec}t %P %{tid}P %I %B %D %>s %{local}p %{remote}p \"%m\" '
                   r'\"%U\" \"%q\" %H %v %R %A %{c}a %a \"%{User-Agent}i\" '
                   r'\"%{traceparent}i\"')
MODDIR = "/usr/lib/apache2/modules"
STATUS_CONF = ("LoadModule status_module %s/mod_status.so\nExtendedStatus On\n"
               "<Location /server-status>\n  SetHandler server-status\n"
               "  Require all granted\n</Location>\n" % MODDIR)
# The confidence of the intervals the verdicts are taken on.
CI_LEVEL = 0.90
SCRAPE_EVERY = 1.0                # seconds, as a Prometheus scrape interval
# The exporter's scrape measured with this many request label sets (smoke:
# fewer): statuses x methods x protocols sent to one instance.
SERIES = {"full": 5000, "smoke": 200}

# Callgrind runs prefork: in one process (-X) it blocks in accept between
# requests, where event's listener thread wakes on timers, so the count of a
# run depends on the requests, not on how long valgrind took. The hooks cost
# the same under every MPM.
CALLGRIND_MPM = "prefork"
# And the client waits before each request so that Apache, slowed down by
# valgrind, is always already waiting for it: every request then takes the
# same code path (no race between its read and the client's write).
CALLGRIND_PAUSE = 0.003

HOOKS = ["dtp_pre_connection", "dtp_post_read_request", "dtp_access_checker",
         "dtp_type_checker", "dtp_handler", "dtp_log_transaction",
         "dtp_pre_close_connection"]


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------

def proc_mem_kb(pid):
    """(VmRSS, VmHWM) of a process in kB."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out.get("VmRSS", 0), out.get("VmHWM", 0)


def stop_process(proc, sig=signal.SIGINT, timeout=10):
    """Stop a process this script started: sig, then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(sig)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def tool_status(sub):
    """None if tool SUB (a TOOLS key) can run. For an httpdtrace subcommand:
    NOT_BUILT while neither its source nor the binary has it (it is being
    written); an error string if the source has it but the build does not
    (a real failure). For a peer: an error string if it is not installed."""
    cmd = TOOLS[sub]["cmd"]
    sub = cmd[0]
    if cmd[0] in ("bpftrace", "prometheus-apache-exporter"):
        if not shutil.which(cmd[0]):
            return "error: %s is not installed (make check-deps)" % cmd[0]
        if len(cmd) > 1 and not os.path.exists(cmd[1]):
            return "error: %s is missing" % cmd[1]
        return None
    known = False
    if os.access(HTTPDTRACE, os.X_OK):
        r = subprocess.run([HTTPDTRACE, sub, "--help"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=20)
        known = r.returncode == 0
    if known:
        return None
    if any(os.path.exists(os.path.join(REPO, "src", f)) for f in (sub + ".c", sub + "/" + sub + ".c")):
        return "src/%s.c exists but %s has no '%s' (run make)" % (sub, HTTPDTRACE, sub)
    return NOT_BUILT


def module_state(pid, so):
    """(any probe enabled, [uprobes-trampoline] mapped) in process pid, for
    module file so. The semaphores are read by the tests' reader
    (harness/semaphores.py), which finds each one's address from the
    mapping of the module's offset 0 and checks that the mapping holding it
    is the module's writable segment: looking a file offset up in the maps
    alone is ambiguous, as its docstring says."""
    tramp = False
    try:
        with open("/proc/%d/maps" % pid) as f:
            tramp = any(line.rstrip().endswith("[uprobes-trampoline]") for line in f)
    except OSError:
        pass
    try:
        sems = semaphores.values(pid, so)
    except OSError:
        sems = None
    return bool(sems and any(sems.values())), tramp


class Tracer:
    """One tool (TOOLS) watching one Apache: an httpdtrace subcommand or a
    bpftrace script attached to the Apache's module copy, or the Apache
    exporter reading its mod_status. Runs in a cpuacct group of its own."""

    def __init__(self, tool, so, workdir, args=(), name=None):
        self.tool, self.so, self.args = tool, so, list(args)
        self.spec = TOOLS[tool]
        self.sub = tool                 # as the report names it
        name = name or tool
        self.err_path = os.path.join(workdir, "%s.stderr" % name)
        self.out_path = os.path.join(workdir, "%s.stdout" % name)
        self.cpu = cost.CpuGroup("dtp-bench-%d-tool-%s" % (os.getpid(), name.replace(".", "_")))
        self.proc = None
        self.port = None
        self.scraping = None
        self.pages = []

    def command(self, httpd):
        cmd = list(self.spec["cmd"]) + self.args
        if self.spec.get("listen"):
            self.port = free_port()
        if cmd[0] == "bpftrace":
            return cmd + [self.so]
        if cmd[0] == "prometheus-apache-exporter":
            return cmd + ["--scrape_uri=http://127.0.0.1:%d/server-status?auto" % httpd.port,
                          "--telemetry.address=127.0.0.1:%d" % self.port]
        if self.port:
            cmd += ["--listen", "127.0.0.1:%d" % self.port]
        return [HTTPDTRACE] + cmd + ["-m", self.so]

    def ready(self, httpd):
        if self.spec.get("probes", True):
            return any(module_state(p, self.so)[0] for p in httpd.children())
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.port,
                                        timeout=5) as r:
                return re.search(rb"^apache_up 1$", r.read(), re.M) is not None
        except OSError:
            return False

    def start(self, httpd, timeout=30):
        # O_APPEND: truncate_output() empties it between rounds
        out = open(self.out_path, "a") if self.spec.get("out") else subprocess.DEVNULL
        cmd = self.command(httpd)
        with open(self.err_path, "w") as err:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=err, start_new_session=True,
                                         preexec_fn=self.cpu.join)
        if out is not subprocess.DEVNULL:
            out.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited %s: %s" % (
                    " ".join(cmd[:2]), self.proc.returncode, self.stderr().strip()[-500:]))
            if self.ready(httpd):
                if self.port:
                    self.scraping = threading.Event()
                    threading.Thread(target=self._scrape_every, daemon=True).start()
                for _ in range(self.spec.get("pages", 0)):
                    self.pages.append(self._open_page())
                return self
            time.sleep(0.1)
        raise RuntimeError("%s was not ready in %ds" % (" ".join(cmd[:2]), timeout))

    def cpu_ns(self):
        return self.cpu.ns([self.proc.pid])

    def bpf(self):
        stats = cost.prog_stats(self.proc.pid)
        if not hasattr(self, "prog_names") or set(stats) - set(self.prog_names):
            self.prog_names = cost.prog_names(stats)
        return stats

    def truncate_output(self):
        if self.spec.get("out"):
            os.truncate(self.out_path, 0)

    def stderr(self):
        try:
            with open(self.err_path) as f:
                return f.read()
        except OSError:
            return ""

    def drops(self):
        """Events the tool reported dropped on stderr ("N events dropped so
        far", "N requests, M dropped" at exit: read it after stop()), or
        None if it said nothing about drops."""
        found = [int(n) for n in re.findall(r"(\d+) (?:events )?dropped", self.stderr())]
        return max(found) if found else None

    def seen(self):
        """Requests the tool said it saw ("N requests, M dropped" at exit)."""
        m = re.search(r"(\d+) requests, \d+ dropped", self.stderr())
        return int(m.group(1)) if m else None

    def scrape(self):
        """One GET /metrics: (seconds it took, bytes)."""
        t0 = time.time()
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request("GET", "/metrics")
        body = c.getresponse().read()
        c.close()
        return time.time() - t0, len(body)

    def _scrape_every(self):
        """As Prometheus would, while the tool runs."""
        while not self.scraping.wait(SCRAPE_EVERY):
            try:
                self.scrape()
            except OSError:
                pass

    def _open_page(self):
        """A dashboard reading the stream, as a browser's EventSource does
        (its updates are read and dropped); the socket, to close at stop."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        s.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")

        def read():
            try:
                while s.recv(65536):
                    pass
            except OSError:
                pass
        threading.Thread(target=read, daemon=True).start()
        return s

    def stop(self):
        if self.scraping:
            self.scraping.set()
        for s in self.pages:
            s.close()
        stop_process(self.proc)
        self.cpu.remove()


# ---------------------------------------------------------------------------
# Load
# ---------------------------------------------------------------------------

def wrk(port, seconds, conns, threads, script=None):
    """One wrk run on loopback: dict(rps, requests, non2xx, errors), errors
    being socket errors (connect, read, write, timeout)."""
    cmd = ["wrk", "-t%d" % min(threads, conns), "-c%d" % conns, "-d%ds" % seconds]
    if script:
        cmd += ["-s", script]
    cmd.append("http://127.0.0.1:%d%s" % (port, PATH))
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    non2xx = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    if not rps or not total:
        raise RuntimeError("wrk printed no rate:\n" + out)
    return dict(rps=float(rps.group(1)), requests=int(total.group(1)), non2xx=non2xx,
                errors=errors)


def send_requests(port, n, pause=0.0):
    """n GET requests on keep-alive connections (a new one whenever Apache
    closes), each checked for 200, `pause` seconds before each."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for _ in range(n):
            time.sleep(pause)
            conn.request("GET", PATH)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                raise RuntimeError("GET %s: %d" % (PATH, resp.status))
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    finally:
        conn.close()


def machine_busy(seconds=1.0):
    """Fraction of all CPUs busy over `seconds`, from /proc/stat."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]
    t0, i0 = sample()
    time.sleep(seconds)
    t1, i1 = sample()
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


# ---------------------------------------------------------------------------
# The measurements
# ---------------------------------------------------------------------------

class Bench:
    def __init__(self, profile, workdir):
        self.p = PROFILES[profile]
        self.profile = profile
        self.workdir = workdir
        self.httpds = {}
        self.tracers = {}
        self.status = {}            # config -> None or why it has no figures
        self.results = {}
        self.sent = {}              # config -> requests wrk got answered
        self.groups = []            # every Apache's cpuacct group, removed at the end

    # -- instances ------------------------------------------------------------
    def new_httpd(self, name, module, log_requests, mpm="event", extra="", **attrs):
        root = os.path.join(self.workdir, name)
        os.makedirs(root, exist_ok=True)
        os.chmod(root, 0o755)
        so = False
        if module:
            # Its own copy of the module: a tracer attaches by file, so the
            # idle instance and the other tracers' instances stay untraced.
            so = os.path.join(self.workdir, "mod_dtprovider-%s.so" % name)
            shutil.copy(MODULE, so)
            os.chmod(so, 0o755)
        h = Httpd(root, mpm=mpm, module=so, extra=extra)
        h.log_requests = log_requests
        # Its CPU, children that exited included (callgrind runs replace the
        # wrapper and do not use it).
        h.cpu = cost.CpuGroup("dtp-bench-%d-%s" % (os.getpid(), name))
        h.wrapper = h.cpu.wrapper()
        self.groups.append(h.cpu)
        # The module as installed: no DTraceProviderPhases unless asked.
        h.phases = attrs.pop("phases", False)
        for k, v in attrs.items():
            setattr(h, k, v)
        return h

    def start_instances(self):
        for name, _, module, log, tool in CONFIGS:
            if tool:
                self.status[name] = tool_status(tool)
                if self.status[name]:
                    continue
            # Keep-alive connections are never closed by Apache: wrk counts
            # each close as a read error.
            extra = "MaxKeepAliveRequests 0\n"
            if log:         # the fields of requests -j, to a file
                extra += 'LogFormat "%s" full\nCustomLog %s full\n' % (
                    FULL_LOG_FORMAT, os.path.join(self.workdir, name + ".log"))
            if tool == "apache_exporter":
                extra += STATUS_CONF
            h = self.new_httpd(name, module, False, extra=extra)
            self.httpds[name] = h
            h.start()
            if tool:
                t = Tracer(tool, os.path.realpath(h.module) if module else None,
                           self.workdir, name=name)
                try:
                    self.tracers[name] = t.start(h)
                except RuntimeError as e:
                    # Its row says why; the other rows are still measured.
                    t.stop()
                    h.stop()
                    del self.httpds[name]
                    self.status[name] = "error: %s" % str(e).replace("\n", " ")[:300]
                    continue
            self.status.setdefault(name, None)

    def stop_all(self):
        for t in self.tracers.values():
            t.stop()
        for h in self.httpds.values():
            h.stop()
            h.cpu.remove()

    def truncate_logs(self, name):
        """Files that grow with every request start each round empty."""
        if name in self.tracers:
            self.tracers[name].truncate_output()
        log = os.path.join(self.workdir, name + ".log")
        if os.path.exists(log):
            os.truncate(log, 0)

    # -- throughput -----------------------------------------------------------
    def drive(self, name, seconds, conns, script=None):
        """wrk on one instance; counts the answered requests."""
        res = wrk(self.httpds[name].port, seconds, conns, self.p["threads"], script)
        self.sent[name] = self.sent.get(name, 0) + res["requests"]
        return res

    def measure(self, name, seconds, conns):
        """One wrk run with the CPU it cost: Apache's and the tool's (ns of
        their cpuacct groups) and the tool's BPF programs' run time and
        hits (the kernel's BPF statistics), each per request."""
        h, t = self.httpds[name], self.tracers.get(name)
        self.truncate_logs(name)
        a0 = h.cpu.ns(h.pids())
        t0, b0 = (t.cpu_ns(), t.bpf()) if t else (0, {})
        res = self.drive(name, seconds, conns)
        a1 = h.cpu.ns(h.pids())
        t1, b1 = (t.cpu_ns(), t.bpf()) if t else (0, {})
        n = max(1, res["requests"])
        bpf_ns, runs, sites = cost.prog_delta(b0, b1, t.prog_names if t else None)
        res.update(apache_us=(a1 - a0) / 1e3 / n, tool_us=(t1 - t0) / 1e3 / n if t else None,
                   bpf_us=bpf_ns / 1e3 / n if t else None, hits=runs / n if t else None,
                   sites=sites / n if t else None, bpf_hit_ns=bpf_ns / runs if runs else None)
        return res

    def throughput(self):
        p = self.p
        names = [c[0] for c in CONFIGS if c[0] in self.httpds]
        for n in names:                                     # warm-up
            self.drive(n, p["warmup"], p["conns"])
        rounds = []
        with cost.bpf_stats():
            for r in range(p["rounds"]):
                order = names if r % 2 == 0 else names[::-1]    # A B .. then .. B A
                rounds.append({n: self.measure(n, p["seconds"], p["conns"]) for n in order})
        self.results["rounds"] = rounds
        self.results["exact_cpu"] = all(h.cpu.exact for h in self.httpds.values())
        self.results["optimized"] = {
            n: any(module_state(pid, os.path.realpath(self.httpds[n].module))[1]
                   for pid in self.httpds[n].children())
            for n in names if self.tracers.get(n) and self.httpds[n].module}

    def throughput_rows(self):
        """A row per configuration: req/s and its ratio to "no module" (the
        second view), and the CPU each request cost (the first): Apache's,
        the tool's, their sum minus no module's in the same round ("added"),
        the BPF programs' share, each a median with its interval."""
        rounds = self.results.get("rounds", [])
        rows = []
        for name, label, _, _, tool in CONFIGS:
            if self.status.get(name):
                rows.append(dict(name=name, label=label, missing=self.status[name]))
                continue
            rps = [r[name]["rps"] for r in rounds]
            ratios = [r[name]["rps"] / r["base"]["rps"] for r in rounds]
            added = [r[name]["apache_us"] - r["base"]["apache_us"] + (r[name]["tool_us"] or 0)
                     for r in rounds]
            row = dict(name=name, label=label, tool=tool, rps=statistics.median(rps),
                       lo=min(rps), hi=max(rps), ratio=statistics.median(ratios),
                       rlo=min(ratios), rhi=max(ratios),
                       apache_us=statistics.median(r[name]["apache_us"] for r in rounds),
                       added=cost.median_ci(added, CI_LEVEL),
                       share=cost.median_ci([a / r["base"]["apache_us"]
                                             for a, r in zip(added, rounds)], CI_LEVEL),
                       errors=sum(r[name]["errors"] for r in rounds),
                       non2xx=sum(r[name]["non2xx"] for r in rounds))
            for k in ("tool_us", "bpf_us", "hits", "sites", "bpf_hit_ns"):
                v = [r[name][k] for r in rounds if r[name][k] is not None]
                row[k] = statistics.median(v) if v else None
            if tool and TOOLS[tool].get("probes", True):
                direct = [self.direct_us(r[name]) for r in rounds]
                row["direct"] = cost.median_ci(direct, CI_LEVEL)
                row["direct_share"] = cost.median_ci(
                    [d / r["base"]["apache_us"] for d, r in zip(direct, rounds)], CI_LEVEL)
            rows.append(row)
        return rows

    def trap_ns(self):
        """What the kernel takes to enter and leave one traced probe site,
        BPF program aside: the bare optimized uprobe of the probe-hit
        measurement (traced by a bpftrace count(), the cheapest program)."""
        hits = self.results.get("hits", {})
        return hits["floor"]["cpu"] if "floor" in hits else None

    def direct_us(self, res):
        """The work a tracer adds that is measured exactly rather than read
        off Apache's noisy total: the tool's process, its BPF programs' run
        time, and a uprobe trap per probe site hit. The module's own traced
        work (the info struct, ids) is not in it: it is the same for every
        tracer of the same probes, and in the added figure."""
        trap = self.trap_ns() or 0
        return (res["tool_us"] or 0) + (res["bpf_us"] or 0) + (res["sites"] or 0) * trap / 1e3

    def peer_rows(self):
        """Per PEERS pair: our added CPU per request over the peer's, round by
        round (same round, same load), median and interval."""
        rounds = self.results.get("rounds", [])
        out = []
        for ours, peer, what in PEERS:
            if self.status.get(ours) or self.status.get(peer):
                out.append(dict(ours=ours, peer=peer, what=what,
                                missing=self.status.get(ours) or self.status.get(peer)))
                continue

            # Two tracers of the same probes: their exact work (the module's
            # is the same for both). Otherwise: all the CPU each one added.
            exact = all(TOOLS.get(self.tool_of(n) or "", {}).get("probes") is not False
                        and self.tool_of(n) for n in (ours, peer))

            def added(r, n):
                if exact:
                    return self.direct_us(r[n])
                return r[n]["apache_us"] - r["base"]["apache_us"] + (r[n]["tool_us"] or 0)
            # Exact figures are positive: their ratio per round. Added CPU is
            # noisy and may read below 0 in a round: the difference per round
            # (ours - peer, µs) is judged against 0, the ratio of medians shown.
            if exact:
                per_round = [added(r, ours) / added(r, peer) for r in rounds]
            else:
                per_round = [added(r, ours) - added(r, peer) for r in rounds]
            ours_us = statistics.median(added(r, ours) for r in rounds)
            peer_us = statistics.median(added(r, peer) for r in rounds)
            out.append(dict(ours=ours, peer=peer, what=what, exact=exact,
                            interval=cost.median_ci(per_round, CI_LEVEL),
                            goal=1.0 if exact else 0.0,
                            ratio=ours_us / peer_us if peer_us > 0 else None,
                            ours_us=ours_us, peer_us=peer_us))
        return out

    @staticmethod
    def tool_of(name):
        return {c[0]: c[4] for c in CONFIGS}.get(name)

    # -- callgrind ------------------------------------------------------------
    def callgrind_run(self, name, module, n, phases=False):
        """A whole one-process Apache under callgrind that served n requests:
        (total instructions, {hook: (calls, inclusive)}, {function: self})."""
        out = os.path.join(self.workdir, "callgrind.%s.%d.out" % (name, n))
        # Apache drops to www-data before callgrind writes its file.
        open(out, "w").close()
        os.chmod(out, 0o666)
        www = pwd.getpwnam("www-data")
        os.chown(out, www.pw_uid, www.pw_gid)
        # Every run in the same server root: Apache's string work on paths
        # (strlen, strcmp, memcpy) differs with their length and content.
        shutil.rmtree(os.path.join(self.workdir, "cg"), ignore_errors=True)
        h = self.new_httpd("cg", module, False, mpm=CALLGRIND_MPM, phases=phases,
                           one_process=True, wrapper=[
            "valgrind", "--tool=callgrind", "--vgdb=no", "--compress-strings=no",
            "--compress-pos=no", "--callgrind-out-file=" + out,
            "--log-file=" + out + ".log"])
        try:
            h.start(timeout=300)
            send_requests(h.port, n, pause=CALLGRIND_PAUSE)
            h.proc.send_signal(signal.SIGTERM)
            h.proc.wait(timeout=300)
        finally:
            h.stop()
        # The file (uncompressed names): "fn=NAME", cost lines "POS COST";
        # "cfn=CALLEE", "calls=COUNT POS" and one line of inclusive cost.
        total, calls, incl, own = None, {}, {}, {}
        fn, cfn, after_calls = None, None, False
        with open(out) as f:
            for line in f:
                if after_calls:
                    if cfn in HOOKS:
                        incl[cfn] = incl.get(cfn, 0) + int(line.split()[1])
                    after_calls = False
                elif line[:1].isdigit() or line[:1] in "+-*":
                    parts = line.split()
                    if fn and len(parts) > 1:
                        own[fn] = own.get(fn, 0) + int(parts[1])
                elif line.startswith("fn="):
                    fn = line[3:].strip()
                elif line.startswith("cfn="):
                    cfn = line[4:].strip()
                elif line.startswith("calls="):
                    if cfn in HOOKS:
                        calls[cfn] = calls.get(cfn, 0) + int(line[6:].split()[0])
                    after_calls = True
                elif line.startswith("summary:"):
                    total = int(line.split()[1])
        if total is None:
            raise RuntimeError("no summary in " + out)
        return total, {k: (calls[k], incl[k]) for k in calls}, own

    def callgrind(self):
        """Per request: (total after n2 - total after n1) / (n2 - n1), for no
        module, the idle module as installed, and the idle module with
        DTraceProviderPhases On, cg_reps times; medians, and the spread of the
        added figure over the repetitions."""
        n1, n2 = self.p["cg_requests"]
        per = {"base": [], "idle": [], "phases": []}
        hooks, own, where = {}, {}, {}
        for _ in range(self.p["cg_reps"]):
            for name, module, phases in (("base", False, False), ("idle", True, False),
                                         ("phases", True, True)):
                t1, _, own1 = self.callgrind_run(name, module, n1, phases)
                t2, hooks[name], own2 = self.callgrind_run(name, module, n2, phases)
                per[name].append((t2 - t1) / (n2 - n1))
                own[name] = {k: (own2.get(k, 0) - own1.get(k, 0)) / (n2 - n1)
                             for k in set(own1) | set(own2)}
            for k in set(own["base"]) | set(own["idle"]):
                where.setdefault(k, []).append(own["idle"].get(k, 0) - own["base"].get(k, 0))
        added = [i - b for b, i in zip(per["base"], per["idle"])]
        added_phases = [i - b for b, i in zip(per["base"], per["phases"])]
        # Functions whose own instructions per request changed by one or more.
        where = sorted(((statistics.median(v), k) for k, v in where.items()
                        if abs(statistics.median(v)) >= 1.0), reverse=True)
        res = {name: dict(per_request=statistics.median(v), hooks=hooks[name])
               for name, v in per.items()}
        res.update(added_phases=statistics.median(added_phases))
        res.update(added=statistics.median(added), added_lo=min(added), added_hi=max(added),
                   n=(n1, n2), reps=self.p["cg_reps"], where=where)
        self.results["callgrind"] = res

    # -- probe hit ------------------------------------------------------------
    def probe_hit(self, binary, traced):
        """One run of probe-hit: {"bare": .., "usdt": ..} with wall and CPU
        ns per hit (medians over its alternating chunks) and the hits the
        tracer counted."""
        cmd = [binary, str(self.p["hit_n"]), str(self.p["hit_chunks"])]
        if traced:
            cmd = ["bpftrace", "-e", "usdt:%s:httpd:request__done { @usdt = count(); } "
                   "uprobe:%s:probe_hit_bare_site { @bare = count(); }" % (binary, binary),
                   "-c", " ".join(cmd)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        out = {}
        for mode in ("bare", "usdt"):
            m = re.search(r"mode=%s .*hits=(\d+) ns_per_hit=([\d.]+) cpu_ns_per_hit=([\d.]+)"
                          % mode, r.stdout)
            if not m:
                raise RuntimeError("%s: %s %s" % (" ".join(cmd), r.stdout, r.stderr[-500:]))
            count = re.search(r"@%s: (\d+)" % mode, r.stdout)
            out[mode] = dict(hits=int(m.group(1)), wall=float(m.group(2)),
                             cpu=float(m.group(3)), counted=int(count.group(1)) if count
                             else (None if traced else 0))
        return out

    # (row, label, binary, traced, site): each traced run also measures the
    # bare uprobe in the same process, the floor its ratio is taken to.
    HIT_ROWS = [
        ("usdt5", "request-done, 5-byte nop site, untraced", PROBE_HIT, False, "usdt"),
        ("usdt1", "request-done, 1-byte nop site, untraced", PROBE_HIT_NOP1, False, "usdt"),
        ("floor", "bare uprobe on a 5-byte nop (kernel floor), traced", PROBE_HIT, True,
         "bare"),
        ("usdt5t", "request-done, 5-byte nop site, traced", PROBE_HIT, True, "usdt"),
        ("floor1", "bare uprobe on a 5-byte nop, traced, in the 1-byte run", PROBE_HIT_NOP1,
         True, "bare"),
        ("usdt1t", "request-done, 1-byte nop site, traced", PROBE_HIT_NOP1, True, "usdt"),
    ]

    def probe_hits(self):
        runs = {}
        plan = [(PROBE_HIT, False), (PROBE_HIT_NOP1, False), (PROBE_HIT, True),
                (PROBE_HIT_NOP1, True)]
        for rep in range(self.p["hit_reps"]):
            for binary, traced in (plan if rep % 2 == 0 else plan[::-1]):
                runs.setdefault((binary, traced), []).append(self.probe_hit(binary, traced))
        hits = {}
        for key, _, binary, traced, site in self.HIT_ROWS:
            v = [run[site] for run in runs[(binary, traced)]]
            hits[key] = dict(wall=statistics.median(x["wall"] for x in v),
                             cpu=statistics.median(x["cpu"] for x in v),
                             hits=v[0]["hits"],
                             counted=min((x["counted"] for x in v), key=lambda c: c or 0))
            if traced and site == "usdt":
                ratios = [run["usdt"]["cpu"] / run["bare"]["cpu"]
                          for run in runs[(binary, traced)]]
                hits[key].update(ratio=statistics.median(ratios), rlo=min(ratios),
                                 rhi=max(ratios))
        self.results["hits"] = hits

    # -- footprint at a held rate ---------------------------------------------
    def hold_rate(self, name, conns, seconds):
        """wrk whose connections each wait 1 ms after every response."""
        script = os.path.join(self.workdir, "pause.lua")
        with open(script, "w") as f:
            f.write("function delay()\n  return 1\nend\n")
        return self.drive(name, seconds, conns, script)

    def footprint(self):
        target, res = self.p["hold_rate"], {}
        traced = [n for n in self.tracers]
        if not traced:
            self.results["footprint"] = res
            return
        # Calibrate the connection count on the first traced instance.
        conns = 8
        for _ in range(3):
            got = self.hold_rate(traced[0], conns, 2)["rps"]
            conns = max(1, min(128, round(conns * target / max(1.0, got))))
        for n in traced:
            t = self.tracers[n]
            self.truncate_logs(n)
            c0, w0 = t.cpu_ns() / 1e9, time.time()
            r = self.hold_rate(n, conns, self.p["hold_seconds"])
            c1, w1 = t.cpu_ns() / 1e9, time.time()
            rss, hwm = proc_mem_kb(t.proc.pid)
            res[n] = dict(rate=r["rps"], conns=conns, cpu=(c1 - c0) / (w1 - w0),
                          rss_kb=rss, hwm_kb=hwm)
        self.results["footprint"] = res

    def exporter_series(self):
        """The exporter's scrape with SERIES request label sets: an Apache of
        its own answers each (status, method, protocol) once; then the
        scrape's time (median of `scrapes`) and the exporter's RSS."""
        n = SERIES[self.profile]
        if tool_status("exporter"):
            self.results["series"] = dict(missing=tool_status("exporter"))
            return
        h = self.new_httpd("series", True, False)
        with open(os.path.join(h.root, "status.lua"), "w") as f:
            f.write("function handle(r)\n  r.status = tonumber(r.args)\n"
                    "  return apache2.OK\nend\n")
        h.extra = "LuaMapHandler ^/s$ %s/status.lua\n" % h.root
        h.start()
        t = Tracer("exporter", os.path.realpath(h.module), self.workdir,
                   ["--max-series", str(n + 100)])
        try:
            t.start(h)
            t.scraping.set()            # scraped here, not in the background
            methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
            sent = 0
            for proto in ("HTTP/1.1", "HTTP/1.0"):
                for m in methods:
                    for status in range(200, 600):
                        if sent == n:
                            break
                        c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=10)
                        c._http_vsn_str = proto
                        c.request(m, "/s?%d" % status)
                        c.getresponse().read()
                        c.close()
                        sent += 1
            times, size = [], 0
            for _ in range(self.p["scrapes"]):
                secs, size = t.scrape()
                times.append(secs)
            rss, hwm = proc_mem_kb(t.proc.pid)
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % t.port) as r:
                text = r.read().decode()
            series = len(re.findall(r"^http_server_request_duration_seconds_count\{", text,
                                    re.M))
            self.results["series"] = dict(sent=sent, series=series,
                                          scrape_s=statistics.median(times), bytes=size,
                                          rss_kb=rss, hwm_kb=hwm)
        except (OSError, RuntimeError, http.client.HTTPException) as e:
            self.results["series"] = dict(missing="error: %s" % e)
        finally:
            t.stop()
            h.stop()

    def run(self):
        self.results["busy_before"] = machine_busy()
        self.results["load_before"] = os.getloadavg()
        self.results["started"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        t0 = time.time()
        try:
            self.start_instances()
            self.throughput()
            self.footprint()
        finally:
            self.stop_all()
        self.exporter_series()
        self.results["drops"] = {n: t.drops() for n, t in self.tracers.items()}
        self.results["seen"] = {n: (t.seen(), self.sent.get(n, 0))
                                for n, t in self.tracers.items()}
        try:
            self.callgrind()
            self.probe_hits()
        finally:
            for g in self.groups:
                g.remove()
        self.results["load_after"] = os.getloadavg()
        self.results["elapsed"] = time.time() - t0


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------

def cmd_out(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def environment():
    cpu = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read())
    mem = re.search(r"MemTotal:\s*(\d+)", open("/proc/meminfo").read())
    with open("/proc/kallsyms") as f:
        opt = any(line.rstrip().endswith(" arch_uprobe_optimize") for line in f)
    return [
        ("machine", "%s, %d CPUs, %.0f GiB" % (cpu.group(1) if cpu else "?", os.cpu_count(),
                                            int(mem.group(1)) / 2**20 if mem else 0)),
        ("kernel", "%s %s (uprobe nop5 optimization: %s)" % (
            platform.release(), platform.machine(), "yes" if opt else "no")),
        ("Apache", cmd_out(["apache2", "-v"]).splitlines()[0].split(":", 1)[-1].strip()
         if cmd_out(["apache2", "-v"]) else "?"),
        ("libbpf", cmd_out(["dpkg-query", "-W", "-f=${Version}", "libbpf1"]) or "?"),
        ("bpftrace", cmd_out(["bpftrace", "--version"]) or "?"),
        ("wrk", (cmd_out(["dpkg-query", "-W", "-f=${Version}", "wrk"]) or "?")),
        ("valgrind", cmd_out(["valgrind", "--version"]) or "?"),
        ("compiler", (cmd_out(["cc", "--version"]).splitlines() or ["?"])[0]),
    ]


def fmt(v, spec="%.0f"):
    return NOT_BUILT if v is None else spec % v


def verdict(ok, why=""):
    return "met" if ok else "**missed**" + (": " + why if why else "")


def verdict_of(v, why=""):
    """A verdict from cost.judge with its reason."""
    if v == "met":
        return "met"
    return "**%s**" % v + (": " + why if why else "")


def targets(b, rows):
    """(target, measured, verdict) for each target of the issue."""
    out, by = [], {r["name"]: r for r in rows}
    cg, hits = b.results["callgrind"], b.results["hits"]
    busy = b.results["busy_before"] > 0.10 or b.results["load_before"][0] > 0.5

    added = cg["added"]
    delta = {fn: v for v, fn in cg["where"]}
    # Each hook that runs on every request: its own code plus Apache's
    # dispatch to it (ap_run_<hook>).
    per_req = [h for h in HOOKS if cg["idle"]["hooks"].get(h, (0, 0))[0] >= cg["n"][1]]
    hook_cost = {h: delta.get(h, 0) + delta.get("ap_run_" + h[len("dtp_"):], 0)
                 for h in per_req}
    core = ("dtp_post_read_request", "dtp_log_transaction")
    extra = [h for h in per_req if h not in core]
    why = ("%d module hooks run on every request, each costing its own semaphore tests plus "
           "Apache's dispatch to it (%s); Apache's per-module loops "
           "(ap_merge_per_dir_configs) add %.0f for any loaded module" % (
               len(per_req), ", ".join("%s %.0f" % (h[len("dtp_"):], hook_cost[h]) for h in per_req),
               delta.get("ap_merge_per_dir_configs", 0)))
    if extra:
        why += ("; the %s hooks cost %.0f: they should be registered only with "
                "DTraceProviderPhases On" % ("/".join(h[len("dtp_"):] for h in extra),
                                             sum(hook_cost[h] for h in extra)))
    else:
        why += ("; only fewer request hooks or a cheaper dispatch in Apache would close it: "
                "request-start and request-done need post_read_request and log_transaction")
    out.append(("idle: ≤ 30 added instructions per request", "%.1f (%.1f with "
                "DTraceProviderPhases On, which adds the access, type and handler hooks)" % (
                    added, cg["added_phases"]), verdict(added <= 30, why)))

    floor, usdt = hits["floor"]["cpu"], hits["usdt5t"]["cpu"]
    ratio = hits["usdt5t"]["ratio"]
    h5 = hits["usdt5t"]
    if ratio <= 1.05:
        why = ""
    elif h5["rlo"] <= 1.05:
        why = ("runs span %.3f–%.3f, which includes the target: not resolved on this "
               "machine%s" % (h5["rlo"], h5["rhi"], " (loaded by other work)" if busy else ""))
    else:
        why = ("every run is above: both sites take the same optimized path (call into "
               "[uprobes-trampoline], uprobe syscall, BPF program), so the difference is the "
               "loop around the site (the semaphore test and the six arguments the module "
               "computes) or the tracer's USDT program; not established which")
    out.append(("traced hit ≤ 1.05 × bare optimized uprobe",
                "%.0f ns vs %.0f ns: %.3f× (runs %.3f–%.3f)" % (
                    usdt, floor, ratio, h5["rlo"], h5["rhi"]), verdict(ratio <= 1.05, why)))

    def unmeasured(name):
        """Why a tool's figures are missing, for a verdict."""
        why = b.status.get(name) or "?"
        return ("not measured: httpdtrace %s does not exist yet" % name if why == NOT_BUILT
                else "**not measured**: " + why)

    def breakdown(r):
        """Where a configuration's added CPU goes, per request."""
        parts = ["Apache +%.2f µs" % (r["apache_us"] - by["base"]["apache_us"])]
        if r.get("bpf_us") is not None and r.get("hits"):
            parts.append("of which %.1f probe hits (%.2f µs of uprobe traps) and BPF programs "
                         "%.2f µs (%.1f runs at %.0f ns)" % (
                             r["sites"], r["sites"] * (b.trap_ns() or 0) / 1e3, r["bpf_us"],
                             r["hits"], r["bpf_hit_ns"] or 0))
        if r.get("tool_us") is not None:
            parts.append("the tool's process %.2f µs" % r["tool_us"])
        return ", ".join(parts)

    # What two identical instances may differ by (the A/A control: the far
    # end of its interval), as a share of Apache's CPU per request and in
    # µs: added CPU closer to a target than this is not resolved.
    aa = by.get("base2")
    aa_share = max(abs(aa["share"][1]), abs(aa["share"][2])) \
        if aa and not aa.get("missing") else 0.0
    aa_us = max(abs(aa["added"][1]), abs(aa["added"][2])) \
        if aa and not aa.get("missing") else 0.0

    def cost_target(name, goal, what):
        """Added CPU per request as a share of Apache's without the module:
        met when all of its interval is within the goal; missed when all of
        it is above, or when the exactly measured part alone is (it is a
        floor of the added CPU); otherwise not resolved."""
        target = "CPU added per request %s ≤ %.0f %% of Apache's" % (what, goal * 100)
        r = by.get(name)
        if not r or r.get("missing"):
            return (target, r["missing"] if r else "?", unmeasured(name))
        med, lo, hi, cov = r["share"]
        d = r.get("direct_share")
        measured = "%.1f %% (%.0f %% interval %.1f to %.1f; %.2f µs of %.1f)" % (
            med * 100, cov * 100, lo * 100, hi * 100, r["added"][0], by["base"]["apache_us"])
        if d:
            measured += "; exactly measured part %.1f %% (%.1f to %.1f)" % (
                d[0] * 100, d[1] * 100, d[2] * 100)
        if hi + aa_share <= goal:
            v, why = "met", ""
        elif d and d[1] > goal:
            v, why = "missed", "the exactly measured part alone is above: " + breakdown(r)
        elif lo - aa_share > goal:
            v, why = "missed", breakdown(r)
        else:
            v, why = "not resolved", (
                "the interval, widened by what two identical instances may differ by "
                "(A/A, %.1f %%), straddles the "
                "target%s" % (aa_share * 100, " (the machine was loaded by other work)"
                              if busy else ""))
            if d and d[2] <= goal:
                why += "; the exactly measured part is within it"
        return (target, measured, verdict_of(v, why))

    def peer_target(pr):
        target = "httpdtrace %s %s (CPU per request)" % (
            " ".join(TOOLS[pr["ours"]]["cmd"]), pr["what"])
        if pr.get("missing"):
            return (target, pr["missing"], "**not measured**: " + pr["missing"])
        med, lo, hi, cov = pr["interval"]
        goal = pr["goal"]
        if pr["exact"]:
            v = cost.judge(lo, hi, goal)
        else:   # added CPU: allow for the A/A difference
            v = cost.judge(lo - aa_us, hi + aa_us, goal)
        if v == "met" and pr["what"].startswith("<") and hi >= goal:
            v = "not resolved"
        why = ""
        if v == "not resolved":
            why = "the %.0f %% interval straddles %s" % (
                cov * 100, "1" if pr["exact"] else "0, widened by what two identical "
                "instances may differ by (A/A, %.2f µs)" % aa_us)
        elif v == "missed":
            why = "ours: " + breakdown(by[pr["ours"]]) + "; peer: " + breakdown(by[pr["peer"]])
        if pr["exact"]:
            measured = "%.2f× (%.0f %% interval %.2f to %.2f): %.2f µs vs %.2f µs of exactly " \
                "measured work" % (med, cov * 100, lo, hi, pr["ours_us"], pr["peer_us"])
        else:
            measured = "%s: %.2f µs vs %.2f µs of added CPU; ours minus peer %.2f µs (%.0f %% " \
                "interval %.2f to %.2f)" % (
                    "%.2f×" % pr["ratio"] if pr["ratio"] is not None else "ratio undefined",
                    pr["ours_us"], pr["peer_us"], med, cov * 100, lo, hi)
        return (target, measured, verdict_of(v, why))

    out.append(cost_target("idle", 0.01, "by the idle module"))
    out.append(cost_target("latency", 0.03, "by latency"))
    out.append(cost_target("requests", 0.05, "by requests -j"))
    out.append(cost_target("exporter", 0.03, "by the exporter (scraped every second)"))
    for pr in b.peer_rows():
        out.append(peer_target(pr))

    drops = b.results.get("drops", {}).get("requests")
    if by["requests"].get("missing"):
        out.append(("0 drops at the highest rate", NOT_BUILT if b.status["requests"] ==
                    NOT_BUILT else "error", unmeasured("requests")))
    elif drops is None:
        out.append(("0 drops at the highest rate", "the tool reported no drop count",
                    "**unknown**: httpdtrace requests printed nothing about drops on stderr"))
    else:
        out.append(("0 drops at the highest rate", "%d dropped at %.0f req/s" % (
            drops, by["requests"]["rps"]), verdict(drops == 0, "the ring buffer overflowed "
                                                    "between drains: a larger buffer or "
                                                    "shorter drain interval would close it")))

    fp = b.results.get("footprint", {}).get("exporter")
    if not fp:
        out.append(("exporter < 1 % of a core at 10k req/s, scraped every second",
                    "error", unmeasured("exporter")))
    else:
        out.append(("exporter < 1 % of a core at 10k req/s, scraped every second",
                    "%.2f %% CPU at %.0f req/s" % (fp["cpu"] * 100, fp["rate"]),
                    verdict(fp["cpu"] < 0.01 and fp["rate"] >= 0.9 * 10000,
                            "held rate was %.0f req/s, not 10k" % fp["rate"]
                            if fp["rate"] < 0.9 * 10000 else
                            "scrapes read and print every series each second")))
    # The dashboard: the exporter's own CPU with 0, 1 and 10 pages reading
    # its stream, per request in the rounds and as a share of a core at the
    # held rate.
    fps = b.results.get("footprint", {})
    dash = [by.get(n) for n in ("exporter", "dash1", "dash10")]
    what = "exporter with 0, 1 and 10 dashboards open (measured, no target)"
    if any(not r or r.get("missing") for r in dash) or \
            any(n not in fps for n in ("exporter", "dash1", "dash10")):
        out.append((what, "error", "**not measured**: " + "; ".join(
            r["missing"] for r in dash if r and r.get("missing"))))
    else:
        out.append((what, "exporter process %s µs per request; %s %% of a core at %s req/s" % (
            " / ".join("%.2f" % (r["tool_us"] or 0) for r in dash),
            " / ".join("%.2f" % (fps[n]["cpu"] * 100) for n in ("exporter", "dash1", "dash10")),
            " / ".join("%.0f" % fps[n]["rate"] for n in ("exporter", "dash1", "dash10"))), ""))
    se = b.results.get("series", {})
    out.append(("exporter scrape and RSS with %d series (measured, no target)" % SERIES[b.profile],
                se.get("missing") or "%.1f ms a scrape (%d series, %.0f KB), RSS %.1f MB" % (
                    se["scrape_s"] * 1000, se["series"], se["bytes"] / 1024,
                    se["rss_kb"] / 1024), "" if not se.get("missing") else
                "**not measured**"))

    fp = b.results.get("footprint", {}).get("top")
    if not fp:
        out.append(("top < 2 % of a core and < 20 MB RSS at 10k req/s",
                    NOT_BUILT if b.status.get("top") == NOT_BUILT else "error",
                    unmeasured("top")))
    else:
        ok = fp["cpu"] < 0.02 and fp["hwm_kb"] < 20 * 1024
        why = []
        if fp["cpu"] >= 0.02:
            why.append("CPU %.1f %%: per-request work in the tool's user-space loop" %
                       (fp["cpu"] * 100))
        if fp["hwm_kb"] >= 20 * 1024:
            why.append("peak RSS %.1f MB: map and buffer sizes" % (fp["hwm_kb"] / 1024))
        if fp["rate"] < 0.9 * 10000:
            why.append("held rate was %.0f req/s, not 10k" % fp["rate"])
        out.append(("top < 2 % of a core and < 20 MB RSS at 10k req/s",
                    "%.2f %% CPU, %.1f MB RSS (peak %.1f MB) at %.0f req/s" % (
                        fp["cpu"] * 100, fp["rss_kb"] / 1024, fp["hwm_kb"] / 1024, fp["rate"]),
                    verdict(ok and fp["rate"] >= 0.9 * 10000, "; ".join(why))))
    return out


def report(b):
    r, p = b.results, b.p
    rows = b.throughput_rows()
    lines = ["# mod_dtprovider: overhead, measured side by side", "",
             "Written by `make bench` (bench/bench.py, profile `%s`) on %s, in %.0f s." % (
                 b.profile, r["started"], r["elapsed"]), ""]
    busy = r["busy_before"] > 0.10 or r["load_before"][0] > 0.5
    lines += ["| | |", "|---|---|"]
    lines += ["| %s | %s |" % kv for kv in environment()]
    lines += ["| load | load average %.2f before, %.2f after; CPUs %.0f %% busy just before "
              "the run%s |" % (r["load_before"][0], r["load_after"][0], r["busy_before"] * 100,
                               " — **figures taken on a loaded %d-core machine** (other work "
                               "was running): re-run when it is quiet" % os.cpu_count()
                               if busy else ""), ""]

    lines += ["## CPU per request (wrk on loopback, %s)" % PATH, "",
              "Every configuration is an Apache of its own (event MPM) with its tool "
              "attached for the whole run; %d connections, %d threads, %d s a run; %d "
              "rounds after a warm-up, the configurations alternating (forward, then "
              "backward). Cost is work, not speed: the CPU Apache and the tool used in the "
              "run divided by its requests, from cpuacct cgroups (nanoseconds, children "
              "that came and went included)%s. **Added**: Apache's µs/req minus "
              "no module's in the same round, plus the tool's; share: added over no "
              "module's. BPF: the tool's programs' run time and hits per request from the "
              "kernel's BPF statistics (on for the whole run, which adds two clock reads to "
              "every program run); this time is inside Apache's, whose threads run the "
              "programs. **Exactly measured**: the tool's process, its BPF programs, and "
              "one uprobe trap per probe hit at the bare uprobe's cost (%s ns, from the "
              "probe-hit table below): the part of a tracer's cost that other work on the "
              "machine cannot blur, a floor of the added figure (the module's own traced work "
              "is in the added figure only). Medians of the rounds; intervals are "
              "distribution-free %.0f %% intervals of the median (order statistics). A "
              "second instance without the module (A/A control) shows what two identical "
              "instances may differ by (the far end of its interval); verdicts on added CPU "
              "allow for it. The "
              "access log is off except in its own row." % (
                  p["conns"], p["threads"], p["seconds"], p["rounds"],
                  "" if r.get("exact_cpu") else " — **no cgroup could be made: /proc ticks "
                  "instead, children that exited are lost**",
                  "%.0f" % b.trap_ns() if b.trap_ns() else "?", CI_LEVEL * 100), "",
              "| configuration | Apache µs/req | tool µs/req | added µs/req (interval) "
              "| share of no module's (interval) | probe hits/req | BPF runs/req | BPF µs/req "
              "| BPF ns/run | exactly measured µs/req (interval) |",
              "|---|---|---|---|---|---|---|---|---|---|"]

    def opt(v, spec):
        return spec % v if v is not None else ""
    for row in rows:
        if row.get("missing"):
            lines.append("| %s | %s | | | | | | | | |" % (row["label"], row["missing"]))
            continue
        a, sh, d = row["added"], row["share"], row.get("direct")
        lines.append("| %s | %.2f | %s | %.2f (%.2f to %.2f) | %.1f %% (%.1f to %.1f) | %s | "
                     "%s | %s | %s | %s |" % (
                         row["label"], row["apache_us"], opt(row["tool_us"], "%.2f"),
                         a[0], a[1], a[2], sh[0] * 100, sh[1] * 100, sh[2] * 100,
                         opt(row["sites"], "%.2f"), opt(row["hits"], "%.2f"),
                         opt(row["bpf_us"], "%.2f"), opt(row["bpf_hit_ns"], "%.0f"),
                         "%.2f (%.2f to %.2f)" % d[:3] if d else ""))
    lines += ["", "### Side by side with what users run instead", "",
              "Per round, our CPU per request over the peer's (same round, same load); "
              "median and %.0f %% interval. Against a bpftrace script (the same probes, so "
              "the same work in the module) the exactly measured work is compared; against "
              "the access log and mod_status, which leave no such trace, all the CPU each "
              "added." % (CI_LEVEL * 100), "",
              "| ours | peer | compared | ours µs/req | peer µs/req | ratio (interval; for "
              "added CPU, of the medians, and the interval of the difference) |",
              "|---|---|---|---|---|---|"]
    labels = {c[0]: c[1] for c in CONFIGS}
    for pr in b.peer_rows():
        if pr.get("missing"):
            lines.append("| %s | %s | %s | | | |" % (labels[pr["ours"]], labels[pr["peer"]],
                                                     pr["missing"]))
            continue
        iv = pr["interval"]
        lines.append("| %s | %s | %s | %.2f | %.2f | %s |" % (
            labels[pr["ours"]], labels[pr["peer"]], "exactly measured work" if pr["exact"]
            else "added CPU", pr["ours_us"], pr["peer_us"],
            "%.2f (%.2f to %.2f)" % iv[:3] if pr["exact"] else
            "%s; ours − peer %.2f µs (%.2f to %.2f)" % (
                "%.2f" % pr["ratio"] if pr["ratio"] is not None else "undefined", *iv[:3])))
    lines += ["", "### Throughput (the second view)", "",
              "The same runs as req/s; ratio: over \"no module\" in the same round, median "
              "of the rounds (min–max). On a machine shared with other work these move "
              "with the neighbours; the verdicts are taken on CPU per request above.", "",
              "| configuration | median req/s | min–max | ratio to no module (min–max) |",
              "|---|---|---|---|"]
    for row in rows:
        if row.get("missing"):
            lines.append("| %s | %s | | |" % (row["label"], row["missing"]))
            continue
        lines.append("| %s | %.0f | %.0f–%.0f | %.3f (%.3f–%.3f) |" % (
            row["label"], row["rps"], row["lo"], row["hi"], row["ratio"], row["rlo"],
            row["rhi"]))
    lines.append("")
    opt = r.get("optimized", {})
    if opt:
        lines += ["", "Probe sites optimized by the kernel in the traced instances "
                  "([uprobes-trampoline] mapped): " + ", ".join(
                      "%s %s" % (n, "yes" if v else "no") for n, v in opt.items()) + "."]
    seen = r.get("seen", {})
    if seen.get("requests"):
        got, sent = seen["requests"]
        lines += ["", "httpdtrace requests saw %s requests; wrk had %d answered on its "
                  "instance over the whole run (warm-up, rounds, held rate)." % (
                      "?" if got is None else got, sent)]
    lines += ["", "Over all rounds: %d responses other than 2xx, %d socket errors (wrk's "
              "connect, read, write and timeout counts)." % (
                  sum(row.get("non2xx", 0) for row in rows),
                  sum(row.get("errors", 0) for row in rows)), ""]

    cg = r["callgrind"]
    lines += ["## Instructions (callgrind)", "",
              "Whole Apache (%s MPM, `-X`: one process) under callgrind; instructions per "
              "request = "
              "(total after %d requests − total after %d) / %d, so start-up and shut-down "
              "cancel out; each request sent %.0f ms after the previous answer so every one "
              "takes the same path; median of %d repetitions." % (
                  CALLGRIND_MPM, cg["n"][1], cg["n"][0], cg["n"][1] - cg["n"][0],
                  CALLGRIND_PAUSE * 1000, cg["reps"]),
              "",
              "| | instructions |", "|---|---|",
              "| per request, no module | %.0f |" % cg["base"]["per_request"],
              "| per request, module loaded and idle | %.0f |" % cg["idle"]["per_request"],
              "| **added by the idle module, per request** | **%.1f** (repetitions: %.1f to "
              "%.1f) |" % (cg["added"], cg["added_lo"], cg["added_hi"]),
              "| per request, idle with `DTraceProviderPhases On` | %.0f |" % (
                  cg["phases"]["per_request"]),
              "| added by the idle module with `DTraceProviderPhases On` (three more hooks) "
              "| %.1f |" % cg["added_phases"], ""]
    lines += ["Where they go: functions whose own instructions per request differ (idle "
              "module − no module, median over the repetitions, |Δ| ≥ 1):", "",
              "| function | Δ instructions per request |", "|---|---|"]
    lines += ["| %s | %+.1f |" % (k, v) for v, k in cg["where"]]
    lines += ["", "| hook (idle, `DTraceProviderPhases On`) | calls | inclusive instructions "
              "per call |", "|---|---|---|"]
    for hook in HOOKS:
        calls, incl = cg["phases"]["hooks"].get(hook, (0, 0))
        lines.append("| %s | %d | %s |" % (hook, calls, "%.1f" % (incl / calls) if calls
                                           else "not called"))
    lines.append("")

    hits = r["hits"]
    lines += ["## One probe hit (bench/probe-hit.c)", "",
              "Each run fires %d hits of request-done and %d of the bare site in %d "
              "alternating chunks in one process (median per chunk); %d runs of each "
              "binary, alternating, medians shown. Traced = one bpftrace counting both "
              "sites (`@usdt = count()`, `@bare = count()`). CPU ns is the looping "
              "thread's CPU time per hit (it includes the kernel's uprobe handling and "
              "excludes time other processes took); wall ns is elapsed time. Ratio: to "
              "the bare uprobe measured in the same process." % (
                  hits["usdt5"]["hits"], hits["usdt5"]["hits"], p["hit_chunks"],
                  p["hit_reps"]), "",
              "| site | CPU ns/hit | wall ns/hit | ratio to the floor (min–max) "
              "| hits counted |", "|---|---|---|---|---|"]
    for key, label, _, traced, _ in b.HIT_ROWS:
        h = hits[key]
        lines.append("| %s | %.1f | %.1f | %s | %s |" % (
            label, h["cpu"], h["wall"], "%.3f (%.3f–%.3f)" % (h["ratio"], h["rlo"], h["rhi"])
            if "ratio" in h else "", h["counted"] if traced else "–"))
    lines += ["", "The 5-byte site costs %.3f× the kernel's floor; the 1-byte site of "
              "sys/sdt.h costs %.3f× it, so the 5-byte site (module/sdt_nop5.h) saves "
              "%.0f %% of a traced hit." % (
                  hits["usdt5t"]["ratio"], hits["usdt1t"]["ratio"],
                  100 * (1 - hits["usdt5t"]["ratio"] / hits["usdt1t"]["ratio"])), ""]

    fp = r.get("footprint", {})
    lines += ["## Tools' own footprint at a held rate", "",
              "wrk connections that each pause 1 ms after every response, their number "
              "calibrated for about %d req/s; the rate actually achieved is shown. CPU share "
              "from the tool's cpuacct cgroup over %d s; RSS and its peak from "
              "/proc/PID/status. The exporters are scraped every second meanwhile." % (
                  p["hold_rate"], p["hold_seconds"]), "",
              "| tool | achieved req/s | CPU (% of a core) | RSS MB | peak RSS MB |",
              "|---|---|---|---|---|"]
    for name, label, _, _, tool in CONFIGS:
        if not tool:
            continue
        f = fp.get(name)
        if not f:
            lines.append("| %s | %s | | | |" % (label, b.status.get(name) or "?"))
            continue
        lines.append("| %s | %.0f | %.2f | %.1f | %.1f |" % (
            label, f["rate"], f["cpu"] * 100, f["rss_kb"] / 1024, f["hwm_kb"] / 1024))
    lines.append("")

    lines += ["## Targets", "", "| target | measured | verdict |", "|---|---|---|"]
    lines += ["| %s | %s | %s |" % t for t in targets(b, rows)]
    lines.append("")
    return "\n".join(lines), rows


def verdicts(text):
    """{target: met | missed | not resolved | not measured} of a report's
    Targets table."""
    out = {}
    part = text.split("\n## Targets", 1)[-1]
    for line in part.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0] not in ("target", "---"):
            m = re.match(r"\**(met|missed|not resolved|not measured)", cells[-1])
            if m:
                out[cells[0]] = m.group(1)
    return out


def compare_verdicts(path, text):
    """[(target, verdict there, verdict here)] where they differ."""
    with open(path) as f:
        old = verdicts(f.read())
    new = verdicts(text)
    return [(t, old.get(t, "absent"), v) for t, v in new.items() if old.get(t, "absent") != v]


def smoke_checks(b, rows):
    """(name, ok, detail) for every row the report must have."""
    checks = []
    for row in rows:
        if row.get("missing"):
            checks.append(("throughput: " + row["label"], row["missing"] == NOT_BUILT,
                           row["missing"]))
        else:
            checks.append(("throughput: " + row["label"], row["rps"] > 0 and row["non2xx"] == 0,
                           "%.0f req/s, %d non-2xx, %d socket errors" % (
                               row["rps"], row["non2xx"], row["errors"])))
    for row in rows:
        if row.get("missing"):
            continue
        checks.append(("CPU per request: " + row["label"], row["apache_us"] > 0 and (
            row["tool"] is None or row["tool_us"] is not None),
            "Apache %.2f µs, added %.2f µs" % (row["apache_us"], row["added"][0])))
        if row["tool"] and TOOLS[row["tool"]].get("probes", True):
            # every request fires at least request-done once
            checks.append(("BPF statistics: " + row["label"], (row["hits"] or 0) >= 1,
                           "%s hits/req, %s ns/hit" % (row["hits"], row["bpf_hit_ns"])))
    for pr in b.peer_rows():
        checks.append(("side by side: %s vs %s" % (pr["ours"], pr["peer"]),
                       not pr.get("missing") and pr["interval"][0] is not None,
                       pr.get("missing") or "%.2f" % pr["interval"][0]))
    cg = b.results["callgrind"]
    for name in ("base", "idle", "phases"):
        checks.append(("callgrind per request: " + name, cg[name]["per_request"] > 0,
                       "%.0f" % cg[name]["per_request"]))
    for hook in HOOKS:
        calls = cg["phases"]["hooks"].get(hook, (0, 0))[0]
        checks.append(("callgrind hook: " + hook, calls > 0, "%d calls" % calls))
    for key, label, _, traced, _ in b.HIT_ROWS:
        h = b.results["hits"][key]
        ok = h["cpu"] > 0 and (not traced or h["counted"] == h["hits"])
        checks.append(("probe hit: " + label, ok, "%.1f ns, counted %s" % (h["cpu"], h["counted"])))
    se = b.results.get("series", {})
    checks.append(("exporter series: %d" % SERIES[b.profile],
                   not se.get("missing") and 0 < se["series"] <= se["sent"],
                   se.get("missing") or "%d series, %.1f ms" % (se["series"],
                                                              se["scrape_s"] * 1000)))
    for name, label, _, _, tool in CONFIGS:
        if tool:
            f = b.results.get("footprint", {}).get(name)
            why = b.status.get(name)
            checks.append(("footprint: " + tool, (f is not None and f["rate"] > 0)
                           or why == NOT_BUILT, why or "%.0f req/s" % f["rate"]))
    return checks


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="brief run that checks every row")
    ap.add_argument("-o", "--output", help="report path (default bench/RESULTS.md, or "
                    "build/bench/RESULTS-smoke.md with --smoke)")
    ap.add_argument("--busy", type=int, default=0, metavar="N",
                    help="run N busy loops beside the whole bench (a loaded machine)")
    ap.add_argument("--compare", metavar="REPORT",
                    help="after writing the report, list the targets whose verdict "
                    "differs from REPORT's (exit 1 if any)")
    args = ap.parse_args()
    profile = "smoke" if args.smoke else "full"
    output = args.output or (os.path.join(BUILD, "bench", "RESULTS-smoke.md") if args.smoke
                             else os.path.join(HERE, "RESULTS.md"))
    for tool in ("apache2", "wrk", "valgrind", "bpftrace"):
        if not shutil.which(tool):
            sys.exit("bench: %s is not installed (make check-deps)" % tool)
    for f in (MODULE, PROBE_HIT, PROBE_HIT_NOP1):
        if not os.path.exists(f):
            sys.exit("bench: %s is missing; run make bench-build" % f)
    if os.geteuid() != 0:
        sys.exit("bench: tracing needs root")

    # SIGTERM/SIGHUP end the run through the finally clauses (SIGINT already does).
    def interrupted(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)

    # Apache's children run as www-data: the work folder must be reachable.
    workdir = tempfile.mkdtemp(prefix="dtp-bench-")
    os.chmod(workdir, 0o755)
    b = Bench(profile, workdir)
    busy = [subprocess.Popen(["sh", "-c", "while :; do :; done"], start_new_session=True)
            for _ in range(args.busy)]
    try:
        b.run()
        text, rows = report(b)
    finally:
        for p in busy:
            stop_process(p, signal.SIGKILL)
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)
    if args.busy:
        text = text.replace("\n## ", "\n%d busy loops (`sh -c 'while :; do :; done'`) ran "
                            "beside the whole run (`--busy %d`).\n\n## " % (
                                args.busy, args.busy), 1)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with open(output, "w") as f:
        f.write(text)
    print(text)
    print("bench: wrote %s" % output)
    if args.compare:
        differ = compare_verdicts(args.compare, text)
        for target, old, new in differ:
            print("verdict changed: %s: %s in %s, %s now" % (target, old, args.compare, new))
        print("verdicts: %d of the targets differ from %s" % (len(differ), args.compare))
        if differ and not args.smoke:
            return 1
    if args.smoke:
        checks = smoke_checks(b, rows)
        for name, ok, detail in checks:
            print("%s %s: %s" % ("ok  " if ok else "FAIL", name, detail))
        failed = sum(1 for c in checks if not c[1])
        print("%d passed, %d failed" % (len(checks) - failed, failed))
        return 1 if failed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
