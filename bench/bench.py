#!/usr/bin/python3
"""bench.py: what mod_dtprovider costs, measured side by side (`make bench`).

Four measurements, each against its own baseline taken in the same run:

  throughput  Apache instances that differ in one thing (no module; module
              idle; module traced by each httpdtrace subcommand; access log on)
              driven by wrk on loopback in alternating rounds; per round, each
              configuration's req/s divided by "no module" in that round.
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
import statistics
import urllib.request
import subprocess
import sys
import tempfile
import threading
import time

from harness import semaphores
from harness.httpd import BUILD, MODULE, Httpd, free_port

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

HTTPDTRACE = os.path.join(BUILD, "httpdtrace")
PROBE_HIT = os.path.join(BUILD, "bench", "probe-hit")
PROBE_HIT_NOP1 = os.path.join(BUILD, "bench", "probe-hit-nop1")
PATH = "/static.html"           # 406 bytes, as in the field notes
TICK = os.sysconf("SC_CLK_TCK")
NOT_BUILT = "not built yet"

# Sizes: the full bench, and the smoke run of `make check`.
PROFILES = {
    "full": dict(rounds=6, seconds=3, warmup=2, threads=2, conns=16, scrapes=20,
                 hold_seconds=10, hold_rate=10000, cg_requests=(200, 1200),
                 cg_reps=3, hit_n=300000, hit_chunks=30, hit_reps=3),
    "smoke": dict(rounds=2, seconds=1, warmup=1, threads=2, conns=8, scrapes=3,
                  hold_seconds=2, hold_rate=2000, cg_requests=(10, 60),
                  cg_reps=1, hit_n=20000, hit_chunks=4, hit_reps=1),
}

# The throughput configurations: name, label, module loaded, access log on,
# httpdtrace subcommand attached (None: untraced). "base" comes first.
CONFIGS = [
    ("base", "no module", False, False, None),
    ("idle", "module loaded, idle", True, False, None),
    ("latency", "traced: httpdtrace latency", True, False, "latency"),
    ("requests", "traced: httpdtrace requests -j > /dev/null", True, False, "requests"),
    ("top", "traced: httpdtrace top -b", True, False, "top"),
    ("exporter", "traced: httpdtrace exporter, scraped every second", True, False, "exporter"),
    ("accesslog", "access log on, no module", False, True, None),
]

# How each subcommand is run (module path appended as -m PATH).
TOOL_ARGS = {
    "latency": ["latency", "1"],
    "requests": ["requests", "-j"],
    "top": ["top", "-b"],
    "exporter": ["exporter"],     # --listen on a free port is added per run
}
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

def proc_cpu(pid):
    """utime + stime of a process in seconds, 0 if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


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
    """None if `httpdtrace SUB` can run; NOT_BUILT while neither its source
    nor the binary has it (it is being written); an error string if the
    source has it but the build does not (a real failure)."""
    known = False
    if os.access(HTTPDTRACE, os.X_OK):
        r = subprocess.run([HTTPDTRACE, sub, "--help"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=20)
        known = r.returncode == 0
    if known:
        return None
    if os.path.exists(os.path.join(REPO, "src", sub + ".c")):
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
    """One httpdtrace subcommand attached to one Apache's module copy."""

    def __init__(self, sub, so, workdir, args=()):
        self.sub, self.so, self.args = sub, so, list(args)
        self.err_path = os.path.join(workdir, "%s.stderr" % sub)
        self.out_path = os.path.join(workdir, "%s.stdout" % sub)
        self.proc = None
        self.port = None
        self.scraping = None

    def start(self, httpd, timeout=30):
        out = subprocess.DEVNULL if self.sub == "requests" else open(self.out_path, "w")
        args = TOOL_ARGS[self.sub] + self.args
        if self.sub == "exporter":
            self.port = free_port()
            args += ["--listen", "127.0.0.1:%d" % self.port]
        with open(self.err_path, "w") as err:
            self.proc = subprocess.Popen([HTTPDTRACE] + args + ["-m", self.so],
                                         stdout=out, stderr=err, start_new_session=True)
        if out is not subprocess.DEVNULL:
            out.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("httpdtrace %s exited %s: %s" % (
                    self.sub, self.proc.returncode, self.stderr().strip()[-500:]))
            if any(module_state(p, self.so)[0] for p in httpd.children()):
                if self.port:
                    self.scraping = threading.Event()
                    threading.Thread(target=self._scrape_every, daemon=True).start()
                return self
            time.sleep(0.1)
        raise RuntimeError("httpdtrace %s did not enable any probe in %ds" % (self.sub, timeout))

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

    def stop(self):
        if self.scraping:
            self.scraping.set()
        stop_process(self.proc)


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


def apache_cpu(h):
    return sum(proc_cpu(p) for p in h.pids())


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
            h = self.new_httpd(name, module, log, extra="MaxKeepAliveRequests 0\n")
            self.httpds[name] = h
            h.start()
            if tool:
                t = Tracer(tool, os.path.realpath(h.module), self.workdir)
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

    # -- throughput -----------------------------------------------------------
    def drive(self, name, seconds, conns, script=None):
        """wrk on one instance; counts the answered requests."""
        res = wrk(self.httpds[name].port, seconds, conns, self.p["threads"], script)
        self.sent[name] = self.sent.get(name, 0) + res["requests"]
        return res

    def throughput(self):
        p = self.p
        names = [c[0] for c in CONFIGS if c[0] in self.httpds]
        for n in names:                                     # warm-up
            self.drive(n, p["warmup"], p["conns"])
        rounds = []
        for r in range(p["rounds"]):
            order = names if r % 2 == 0 else names[::-1]    # A B .. then .. B A
            row = {}
            for n in order:
                h, t = self.httpds[n], self.tracers.get(n)
                a0, t0 = apache_cpu(h), proc_cpu(t.proc.pid) if t else 0
                res = self.drive(n, p["seconds"], p["conns"])
                a1, t1 = apache_cpu(h), proc_cpu(t.proc.pid) if t else 0
                res["apache_us"] = (a1 - a0) * 1e6 / max(1, res["requests"])
                res["tool_us"] = (t1 - t0) * 1e6 / max(1, res["requests"]) if t else None
                row[n] = res
            rounds.append(row)
        self.results["rounds"] = rounds
        self.results["optimized"] = {
            n: any(module_state(pid, os.path.realpath(self.httpds[n].module))[1]
                   for pid in self.httpds[n].children())
            for n in names if self.tracers.get(n)}

    def throughput_rows(self):
        rounds = self.results.get("rounds", [])
        rows = []
        for name, label, _, _, _ in CONFIGS:
            if self.status.get(name):
                rows.append(dict(name=name, label=label, missing=self.status[name]))
                continue
            rps = [r[name]["rps"] for r in rounds]
            ratios = [r[name]["rps"] / r["base"]["rps"] for r in rounds]
            tool = [r[name]["tool_us"] for r in rounds if r[name]["tool_us"] is not None]
            rows.append(dict(
                name=name, label=label, rps=statistics.median(rps), lo=min(rps), hi=max(rps),
                ratio=statistics.median(ratios), rlo=min(ratios), rhi=max(ratios),
                apache_us=statistics.median(r[name]["apache_us"] for r in rounds),
                tool_us=statistics.median(tool) if tool else None,
                errors=sum(r[name]["errors"] for r in rounds),
                non2xx=sum(r[name]["non2xx"] for r in rounds)))
        return rows

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
            c0, w0 = proc_cpu(t.proc.pid), time.time()
            r = self.hold_rate(n, conns, self.p["hold_seconds"])
            c1, w1 = proc_cpu(t.proc.pid), time.time()
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
        self.callgrind()
        self.probe_hits()
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
    cost = {h: delta.get(h, 0) + delta.get("ap_run_" + h[len("dtp_"):], 0) for h in per_req}
    core = ("dtp_post_read_request", "dtp_log_transaction")
    extra = [h for h in per_req if h not in core]
    why = ("%d module hooks run on every request, each costing its own semaphore tests plus "
           "Apache's dispatch to it (%s); Apache's per-module loops "
           "(ap_merge_per_dir_configs) add %.0f for any loaded module" % (
               len(per_req), ", ".join("%s %.0f" % (h[len("dtp_"):], cost[h]) for h in per_req),
               delta.get("ap_merge_per_dir_configs", 0)))
    if extra:
        why += ("; the %s hooks cost %.0f: they should be registered only with "
                "DTraceProviderPhases On" % ("/".join(h[len("dtp_"):] for h in extra),
                                             sum(cost[h] for h in extra)))
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

    def ratio_target(name, goal, what):
        r = by.get(name)
        if not r or r.get("missing"):
            return ("req/s ratio %s ≥ %.2f" % (what, goal), r["missing"] if r else "?",
                    unmeasured(name))
        ok = r["ratio"] >= goal
        why = ""
        if not ok and r["rhi"] >= goal:
            why = ("per-round ratios span %.3f–%.3f, which includes the target: not resolved "
                   "on this machine%s" % (r["rlo"], r["rhi"], " (loaded by other work)"
                                          if busy else ""))
        elif not ok and name == "idle":
            why = ("every round is below the target, yet callgrind counts %.0f instructions "
                   "added to %.0f a request (%.2f %%): a gap this size is not the module's "
                   "work but the machine%s; re-run quietly, with more rounds" % (
                       cg["added"], cg["base"]["per_request"],
                       100 * cg["added"] / cg["base"]["per_request"],
                       " (loaded by other work)" if busy else ""))
        elif not ok:
            why = ("every round is below the target: Apache spends %.1f µs of CPU a request "
                   "(%.1f µs without the module) and the tool %s µs; the traced work per "
                   "request (probe hits at ~%.0f ns each, BPF, the tool's own loop) must "
                   "shrink, or the machine was too busy%s" % (
                       r["apache_us"], by["base"]["apache_us"],
                       "%.1f" % r["tool_us"] if r["tool_us"] is not None else "?",
                       hits["usdt5t"]["cpu"], " (it was loaded by other work)" if busy else ""))
        return ("req/s ratio %s ≥ %.2f" % (what, goal), "%.3f (rounds %.3f–%.3f)" % (
            r["ratio"], r["rlo"], r["rhi"]), verdict(ok, why))

    out.append(ratio_target("idle", 0.99, "idle"))
    out.append(ratio_target("latency", 0.97, "latency-traced"))
    out.append(ratio_target("requests", 0.95, "requests-streamed"))

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

    out.append(ratio_target("exporter", 0.97, "exporter-traced (scraped every second)"))
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

    lines += ["## Throughput (wrk on loopback, %s)" % PATH, "",
              "%d connections, %d threads, %d s a run; %d rounds after a warm-up, the "
              "configurations alternating (forward, then backward). Ratio: req/s over \"no "
              "module\" in the same round, median of the rounds. The access log is off except "
              "in its own row, so the rows isolate the module." % (
                  p["conns"], p["threads"], p["seconds"], p["rounds"]), "",
              "| configuration | median req/s | min–max | ratio to no module (min–max) "
              "| Apache CPU µs/req | tool CPU µs/req |",
              "|---|---|---|---|---|---|"]
    for row in rows:
        if row.get("missing"):
            lines.append("| %s | %s | | | | |" % (row["label"], row["missing"]))
            continue
        lines.append("| %s | %.0f | %.0f–%.0f | %.3f (%.3f–%.3f) | %.1f | %s |" % (
            row["label"], row["rps"], row["lo"], row["hi"], row["ratio"], row["rlo"],
            row["rhi"], row["apache_us"], "%.2f" % row["tool_us"] if row["tool_us"] is not None
            else ""))
    lines += ["", "CPU µs/req: utime+stime from /proc/PID/stat over the run divided by its "
              "requests; /proc counts in ticks of %.0f ms, so a tool that used less than one "
              "tick in a run reads 0." % (1000.0 / TICK)]
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
              "from /proc/PID/stat (utime+stime) over %d s; RSS and its peak from "
              "/proc/PID/status." % (p["hold_rate"], p["hold_seconds"]), "",
              "| tool | achieved req/s | CPU (% of a core) | RSS MB | peak RSS MB |",
              "|---|---|---|---|---|"]
    for name, label, _, _, tool in CONFIGS:
        if not tool:
            continue
        f = fp.get(name)
        if not f:
            lines.append("| httpdtrace %s | %s | | | |" % (" ".join(TOOL_ARGS[tool]),
                                                          b.status.get(name) or "?"))
            continue
        lines.append("| httpdtrace %s | %.0f | %.2f | %.1f | %.1f |" % (
            " ".join(TOOL_ARGS[tool]), f["rate"], f["cpu"] * 100, f["rss_kb"] / 1024,
            f["hwm_kb"] / 1024))
    lines.append("")

    lines += ["## Targets (issue 5)", "", "| target | measured | verdict |", "|---|---|---|"]
    lines += ["| %s | %s | %s |" % t for t in targets(b, rows)]
    lines.append("")
    return "\n".join(lines), rows


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
    try:
        b.run()
        text, rows = report(b)
    finally:
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with open(output, "w") as f:
        f.write(text)
    print(text)
    print("bench: wrote %s" % output)
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
