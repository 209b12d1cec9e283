"""A real tracer for the tests: bpftrace attached to mod_dtprovider's probes by
the module's path (pid -1, so every child is covered).

Each probe hit prints several complete lines of the form
`TAG<TAB>key<TAB>fields...` (one printf each, see LINES); lines from
different CPUs interleave, so events are reassembled by kind and key.
"""
import collections
import os
import signal
import subprocess
import threading
import time

from httpd import MODULE, REPO

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
                    ("useragent_ip", "useragent_ip"), ("user_agent", "user_agent")])],
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


def interrupt(proc, timeout=20):
    """Stop a tracer as a user would, with SIGINT (bpftrace prints its maps
    then); SIGKILL if it is still there after `timeout` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
        self.out = []
        self.err = []

    def start(self, timeout=30):
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=self.env, text=True)
        attached = threading.Event()

        def read_out():
            for line in self.proc.stdout:
                if line.startswith("Attaching"):
                    attached.set()
                self.out.append(line)

        def read_err():
            for line in self.proc.stderr:
                self.err.append(line)

        threading.Thread(target=read_out, daemon=True).start()
        threading.Thread(target=read_err, daemon=True).start()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if attached.wait(0.1):
                # "Attaching N probes..." prints before the attach completes.
                time.sleep(1.0)
                return self
            if self.proc.poll() is not None:
                break
        raise RuntimeError("bpftrace did not attach: %s" % "".join(self.err))

    def stop(self, settle=1.0):
        """Detach (SIGINT, as a user would) and return the Events seen."""
        time.sleep(settle)
        interrupt(self.proc)
        time.sleep(0.2)
        return Events("".join(self.out))

    def raw(self):
        return "".join(self.out)
