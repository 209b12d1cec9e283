"""cost.py: CPU as work, for bench.py. What a configuration costs is read
from the kernel's accounting rather than inferred from req/s:

  CpuGroup     a cpuacct cgroup per process tree (Apache and its children,
               a tracer): nanoseconds of CPU, children that exited included;
               /proc/PID/stat ticks when no cgroup can be made.
  bpf_stats()  the kernel's BPF run-time statistics switched on for as long
               as the returned handle lives (BPF_ENABLE_STATS; the sysctl
               kernel.bpf_stats_enabled where that call is refused).
  prog_stats   run_time_ns and run_cnt of every BPF program a process holds
               (/proc/PID/fdinfo of its bpf-prog descriptors).
  median_ci    a median with a distribution-free confidence interval from the
               order statistics of the rounds.
"""
import ctypes
import json
import math
import os
import platform
import subprocess

CPUACCT = "/sys/fs/cgroup/cpuacct"
TICK_NS = 1e9 / os.sysconf("SC_CLK_TCK")


class CpuGroup:
    """CPU time of a process tree. `wrapper()` is a command prefix that puts
    the command in the group before it runs; `join()` does the same from a
    Popen preexec_fn. Without cgroup v1 cpuacct, `ns()` falls back to the
    utime+stime of the pids given to it (children that exited are lost)."""

    def __init__(self, name):
        self.path = os.path.join(CPUACCT, name)
        try:
            os.makedirs(self.path, exist_ok=True)
            with open(os.path.join(self.path, "cpuacct.usage")):
                pass
        except OSError:
            self.path = None

    @property
    def exact(self):
        return self.path is not None

    def wrapper(self):
        if not self.path:
            return []
        procs = os.path.join(self.path, "cgroup.procs")
        return ["sh", "-c", 'echo $$ > %s && exec "$@"' % procs, "sh"]

    def join(self):
        if self.path:
            with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))

    def ns(self, pids=()):
        if self.path:
            with open(os.path.join(self.path, "cpuacct.usage")) as f:
                return int(f.read())
        return sum(stat_ns(p) for p in pids)

    def remove(self):
        if self.path:
            try:
                os.rmdir(self.path)
            except OSError:
                pass


def stat_ns(pid):
    """utime + stime of a process in ns (ticks), 0 if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * TICK_NS
    except (OSError, IndexError, ValueError):
        return 0


# bpf(2): BPF_ENABLE_STATS = 32 with stats type BPF_STATS_RUN_TIME = 0 returns
# a descriptor that keeps the statistics on until it is closed.
BPF_SYSCALL = {"x86_64": 321, "aarch64": 280}
SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"


class bpf_stats:
    """Context manager: BPF run-time statistics on inside it."""

    def __enter__(self):
        self.fd, self.old = -1, None
        nr = BPF_SYSCALL.get(platform.machine())
        if nr:
            libc = ctypes.CDLL(None, use_errno=True)
            attr = ctypes.c_uint32(0)
            self.fd = libc.syscall(nr, 32, ctypes.byref(attr), 4)
        if self.fd < 0:
            with open(SYSCTL) as f:
                self.old = f.read().strip()
            with open(SYSCTL, "w") as f:
                f.write("1")
        return self

    def __exit__(self, *exc):
        if self.fd >= 0:
            os.close(self.fd)
        elif self.old is not None:
            with open(SYSCTL, "w") as f:
                f.write(self.old)


def prog_stats(pid):
    """{prog_id: (run_time_ns, run_cnt)} of the BPF programs process pid
    holds a descriptor of."""
    out = {}
    fds = "/proc/%d/fd" % pid
    try:
        names = os.listdir(fds)
    except OSError:
        return out
    for fd in names:
        try:
            if os.readlink(os.path.join(fds, fd)) != "anon_inode:bpf-prog":
                continue
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                info = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        pid_ = int(info.get("prog_id", "0"))
        out[pid_] = (int(info.get("run_time_ns", "0")), int(info.get("run_cnt", "0")))
    return out


def prog_names(ids):
    """{prog_id: name} from bpftool (program names are probe names: libbpf
    takes the function's, request__done, and bpftrace the probe's)."""
    out = {}
    for i in ids:
        try:
            r = subprocess.run(["bpftool", "prog", "show", "id", str(i), "-j"],
                               capture_output=True, text=True, timeout=20)
            out[i] = json.loads(r.stdout).get("name", "?")
        except (OSError, ValueError, subprocess.TimeoutExpired):
            out[i] = "?"
    return out


def prog_delta(before, after, names=None):
    """(run_time_ns, runs, sites) the programs added between two prog_stats.
    sites counts probe sites hit, not program runs: programs of one probe
    (the same name, up to a "___" suffix) share the site's one uprobe hit,
    so a probe counts the most runs any of its programs made."""
    ns = cnt = 0
    per_probe = {}
    for k, (t1, c1) in after.items():
        t0, c0 = before.get(k, (0, 0))
        ns += t1 - t0
        cnt += c1 - c0
        probe = (names or {}).get(k, str(k)).split("___")[0]
        per_probe[probe] = max(per_probe.get(probe, 0), c1 - c0)
    return ns, cnt, sum(per_probe.values())


def median_ci(values, level=0.90):
    """(median, lo, hi, coverage): lo and hi are order statistics x(k) and
    x(n+1-k) with the largest k whose interval still covers the median with
    probability >= level (binomial, no assumption on the distribution);
    with too few values for the level, the whole range and its coverage."""
    v = sorted(values)
    n = len(v)
    if n == 0:
        return None, None, None, 0.0
    med = (v[(n - 1) // 2] + v[n // 2]) / 2

    def coverage(k):   # P(x(k) <= median <= x(n+1-k))
        tail = sum(math.comb(n, i) for i in range(k)) / 2.0 ** n
        return 1 - 2 * tail

    k = 1
    while k + 1 <= n // 2 and coverage(k + 1) >= level:
        k += 1
    return med, v[k - 1], v[n - k], coverage(k)


def judge(lo, hi, goal, below=True):
    """'met', 'missed' or 'not resolved' for an interval against a goal:
    met when all of it is on the good side (below the goal when `below`)."""
    if below:
        return "met" if hi <= goal else "missed" if lo > goal else "not resolved"
    return "met" if lo >= goal else "missed" if hi < goal else "not resolved"
