"""A real tracer for the tests: bpftrace attached to mod_dtprovider's probes by
the module's path (pid -1, so every child is covered).

Each probe hit prints several complete lines of the form
`TAG<TAB>key<TAB>fields...` (one printf each, see LINES); lines from
different CPUs interleave, so events are reassembled by kind and key.
"""
import collections
import json
import os
import re
import signal
import subprocess
import threading
import time
import warnings

from harness import semaphores
from harness.httpd import MODULE, REPO

HEADER = os.path.join(REPO, "module", "mod_dtprovider.h")

# Every printf is one whole line `TAG<TAB>key<TAB>fields...\n`: bpftrace reads
# the per-CPU buffers in turn, so two printfs of one probe hit can have another
# CPU's output between them, and a line left open by one printf would be cut.
# At most one string per printf: with BPFTRACE_STRLEN=200 two of them overflow
# bpftrace's 512-byte stack. @SO@ is the module path.
# (tag, field names, printf format after the key, arguments after the key)
LINES = {
    "request__start": [
        ("S1", ["conn_id", "pid", "tid"], "%llu\t%d\t%d", "arg1, pid, tid"),
        ("S2", ["method"], "%s", "str(arg2)"),
        ("S3", ["uri"], "%s", "str(arg3)"),
        ("S4", ["client_ip"], "%s", "str(arg4)"),
        ("S5", ["vhost"], "%s", "str(arg5)"),
    ],
    "request__done": [
        ("D1", ["status", "latency_us", "pid", "tid"], "%d\t%llu\t%d\t%d",
         "arg1, arg2, pid, tid"),
        ("D2", ["method"], "%s", "str(arg3)"),
        ("D3", ["uri"], "%s", "str(arg4)"),
        ("D4", ["version", "size", "info_id", "conn_id", "bytes_in", "bytes_out",
                "info_latency_us", "info_status", "local_port", "peer_port", "start_us"],
         "%u\t%u\t%llu\t%llu\t%llu\t%llu\t%llu\t%d\t%u\t%u\t%llu",
         "$i->version, $i->size, $i->id, $i->conn_id, $i->bytes_in, $i->bytes_out, "
         "$i->latency_us, $i->status, $i->local_port, $i->peer_port, $i->start_us"),
    ] + [("D%d" % (5 + n), [name], "%s", "str($i->%s)" % field) for n, (name, field) in
         enumerate([("info_method", "method"), ("info_uri", "uri"), ("query", "query"),
                    ("protocol", "protocol"), ("vhost", "vhost"), ("handler", "handler"),
                    ("local_ip", "local_ip"), ("peer_ip", "peer_ip"),
                    ("useragent_ip", "useragent_ip"), ("user_agent", "user_agent"),
                    ("trace_id", "trace_id"), ("parent_id", "parent_id")])],
    "conn__start": [
        ("C1", ["peer_port", "local_port", "pid"], "%d\t%d\t%d", "arg2, arg4, pid"),
        ("C3", ["peer_ip"], "%s", "str(arg1)"),
        ("C4", ["local_ip"], "%s", "str(arg3)"),
    ],
    "conn__done": [
        ("C2", ["requests", "duration_us", "bytes_in", "bytes_out", "pid"],
         "%u\t%llu\t%llu\t%llu\t%d", "arg1, arg2, arg3, arg4, pid"),
    ],
}


def script(probes=tuple(LINES)):
    """The bpftrace program printing LINES for the given probes."""
    out = ['#include "@HEADER@"']
    for probe in probes:
        lines = LINES[probe]
        out.append("usdt:@SO@:httpd:%s\n{" % probe)
        if probe == "request__done":
            out.append("\t$i = (struct httpd_request_info *)arg5;")
        for tag, _names, fmt, args in lines:
            out.append('\tprintf("%s\\t%%llu\\t%s\\n", arg0, %s);' % (tag, fmt, args))
        out.append("}")
    return "\n".join(out) + "\n"


SCRIPT = script()
FIELDS = {tag: names for lines in LINES.values() for tag, names, _f, _a in lines}
INTS = {"conn_id", "pid", "tid", "status", "latency_us", "version", "size", "info_id",
        "bytes_in", "bytes_out", "info_latency_us", "info_status", "local_port",
        "peer_port", "start_us", "requests", "duration_us"}
KIND = {"S": "starts", "D": "dones", "C1": "conn_starts", "C3": "conn_starts",
        "C4": "conn_starts", "C2": "conn_dones"}


class Events:
    """Reassembled probe hits: starts, dones, conn_starts, conn_dones, each a
    dict id -> fields (id is the request or connection id). `hits` counts the
    lines of each tag per id, so an id fired twice shows as a count of 2."""

    def __init__(self, text):
        self.starts, self.dones, self.conn_starts, self.conn_dones = {}, {}, {}, {}
        self.hits = collections.Counter()
        for line in text.splitlines():
            parts = line.split("\t")
            tag = parts[0]
            if tag not in FIELDS or len(parts) != len(FIELDS[tag]) + 2:
                continue
            key = int(parts[1])
            self.hits[tag, key] += 1
            table = getattr(self, KIND.get(tag, KIND.get(tag[0], "")))
            rec = table.setdefault(key, {"id": key})
            for name, val in zip(FIELDS[tag], parts[2:]):
                rec[name] = int(val) if name in INTS else val

    def done_list(self):
        return [self.dones[k] for k in sorted(self.dones)]


# Stopping a tracer. bpftrace 0.17 can lose a SIGINT: its handler only sets a
# flag that its loop reads after epoll_wait() returns, and a script that only
# fills maps has nothing to wake it once traffic stops (seen asleep for 120 s).
# A user who sees it hang presses Ctrl-C again; so does the harness, every
# REPEAT_S seconds, up to LIMIT_S, then SIGKILLs and fails: output judged after
# a silent kill would blame the script for the harness.
REPEAT_S = 2.0
LIMIT_S = 120.0


class TracerKilled(AssertionError):
    """A tracer that had to be SIGKILLed: its output is incomplete."""


class Stopped:
    """How a tracer ended: exit status, seconds from the first SIGINT to the
    exit, how many SIGINTs it took, and whether it had to be SIGKILLed."""

    def __init__(self, rc, seconds, sigints, killed=False):
        self.rc, self.seconds, self.sigints, self.killed = rc, seconds, sigints, killed

    def __str__(self):
        how = "SIGKILLed" if self.killed else "exit status %s" % self.rc
        return "%s %.1f s after the first SIGINT (%d SIGINT%s sent)" % (
            how, self.seconds, self.sigints, "" if self.sigints == 1 else "s")


def interrupt(proc, repeat=REPEAT_S, limit=LIMIT_S):
    """Stop `proc` as a user would: SIGINT, and SIGINT again every `repeat`
    seconds while it is still there; SIGKILL after `limit` seconds. Returns
    a Stopped (sigints 0 if it had already exited)."""
    if proc.poll() is not None:
        return Stopped(proc.returncode, 0.0, 0)
    t0 = time.monotonic()
    sigints = 0
    while time.monotonic() - t0 < limit:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            sigints += 1
        try:
            rc = proc.wait(timeout=min(repeat, max(0.1, limit - (time.monotonic() - t0))))
            return Stopped(rc, time.monotonic() - t0, sigints)
        except subprocess.TimeoutExpired:
            pass
    proc.kill()
    proc.wait()
    return Stopped(proc.returncode, time.monotonic() - t0, sigints, killed=True)


def describe(name, stopped, err, tail=3000):
    """One message for an assertion: who, how it ended, its stderr."""
    text = "".join(err)
    return "%s: %s; stderr%s:\n%s" % (name, stopped or "still running",
                                        " (last %d chars)" % tail if len(text) > tail else "",
                                        text[-tail:])


def uprobes_attached(pid):
    """How many uprobes process pid has attached (bpftool perf show)."""
    out = subprocess.run(["bpftool", "-j", "perf", "show"], capture_output=True,
                         text=True).stdout
    try:
        return sum(1 for e in json.loads(out or "[]")
                   if e.get("pid") == pid and e.get("fd_type") == "uprobe")
    except ValueError:
        return 0


class Bpftrace:
    """bpftrace running SCRIPT (or `script`) against the module at `so`; or,
    with `argv`, bpftrace run with those arguments (a script file and its
    positional parameters)."""

    def __init__(self, so=MODULE, script=SCRIPT, env=None, argv=None):
        self.so = so
        self.text = script.replace("@SO@", so).replace("@HEADER@", HEADER)
        self.argv = ["bpftrace"] + (argv or ["-e", self.text])
        self.env = dict(os.environ, BPFTRACE_STRLEN="200")
        self.env.update(env or {})
        self.proc = None
        self.stopped = None
        self.out = []
        self.err = []

    def program(self):
        """The bpftrace program text this run executes."""
        if self.argv[1:3] == ["-e", self.text]:
            return self.text
        args = self.argv[1:]
        for i, a in enumerate(args):
            if i and args[i - 1] == "-e":
                return a
            if a.endswith(".bt") and os.path.isfile(a):
                with open(a) as f:
                    return f.read()
        return ""

    def start(self, timeout=60):
        """Start bpftrace and return once every probe site its program
        names is attached. bpftrace prints "Attaching N probes..." before it
        attaches; the semaphores cannot tell either (the kernel raises one
        once per site, however many tracers share it); the kernel's list of
        perf-event attachments can: bpftool perf shows one uprobe per site
        and attach point per tracer process. bpftrace runs BEGIN once
        everything is attached: a program whose BEGIN prints (a header, or
        what it sets up for the probes) is ready when that line is out, not
        before."""
        program = self.program()
        # One uprobe per site for each attach point that names the probe
        # (bpftrace attaches every block on its own), comments aside.
        code = re.sub(r"/\*.*?\*/|(?:^|(?<=\s))//[^\n]*", "", program, flags=re.S | re.M)
        names = re.findall(r":httpd:(\w+)", code)
        begin = re.search(r"^BEGIN\s*\{(.*?)^\}", program, re.M | re.S) or \
            re.search(r"BEGIN\s*\{([^}]*)\}", program)
        begin_prints = bool(begin and "printf" in begin.group(1))
        want = 0
        if names and os.path.exists(self.so):
            sites = semaphores.sites(self.so)
            want = sum(sites.get(n, 0) for n in names)
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=self.env, text=True,
                                     errors="replace")
        attached = threading.Event()
        begun = threading.Event()

        def read_out():
            for line in self.proc.stdout:
                if attached.is_set():
                    begun.set()
                if line.startswith("Attaching"):
                    attached.set()
                self.out.append(line)

        def read_err():
            for line in self.proc.stderr:
                self.err.append(line)

        self._threads = [threading.Thread(target=read_out, daemon=True),
                         threading.Thread(target=read_err, daemon=True)]
        for t in self._threads:
            t.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if attached.wait(0.1) and uprobes_attached(self.proc.pid) >= want and \
                    (begun.is_set() or not begin_prints):
                if not want:
                    time.sleep(1.0)     # nothing to count: give it a moment
                return self
        why = "exited" if self.proc.poll() is not None else \
            "not attached after %d s" % timeout
        self.stopped = interrupt(self.proc)
        raise RuntimeError("bpftrace %s: %s" % (why, self.describe()))

    def stop(self, settle=1.0):
        """Detach (SIGINT, repeated as a user would: see interrupt()) and
        return the Events seen. A bpftrace that fails or has to be killed
        fails the test with its status, time and stderr."""
        time.sleep(settle)
        self.stopped = interrupt(self.proc)
        if self.stopped.killed:
            raise TracerKilled(self.describe())
        if self.stopped.sigints > 1:    # the lost SIGINT, recovered: say so
            warnings.warn("bpftrace lost a SIGINT: " + str(self.stopped))
        for t in self._threads:
            t.join(10)
        assert self.stopped.rc == 0, self.describe()
        return Events("".join(self.out))

    def describe(self):
        return describe("bpftrace", self.stopped, self.err)

    def raw(self):
        return "".join(self.out)
