"""A real tracer for the tests: bpftrace attached to mod_dtprovider's probes by
the module's path (pid -1, so every child is covered).

Each probe hit prints complete lines of the form `KIND<TAB>key<TAB>fields...`
(several per hit when the fields would not fit one bpftrace printf, since
bpftrace's 512-byte stack limits the strings per printf); lines from
different CPUs may interleave, so events are reassembled by kind and key.
"""
import os
import signal
import subprocess
import threading
import time

from httpd import MODULE, REPO

HEADER = os.path.join(REPO, "module", "mod_dtprovider.h")

# One line set per probe; @SO@ is the module path.
SCRIPT = r'''
#include "@HEADER@"
usdt:@SO@:httpd:request__start
{
	printf("S1\t%llu\t%llu\t%d\t%d\t", arg0, arg1, pid, tid);
	printf("%s\t", str(arg2));
	printf("%s\n", str(arg3));
	printf("S2\t%llu\t", arg0);
	printf("%s\t", str(arg4));
	printf("%s\n", str(arg5));
}
usdt:@SO@:httpd:request__done
{
	$i = (struct httpd_request_info *)arg5;
	printf("D1\t%llu\t%d\t%llu\t%d\t%d\t", arg0, arg1, arg2, pid, tid);
	printf("%s\t", str(arg3));
	printf("%s\n", str(arg4));
	printf("D2\t%llu\t%u\t%u\t%llu\t%llu\t%llu\t%llu\t%llu\t%d\t%u\t%u\n", arg0,
	       $i->version, $i->size, $i->id, $i->conn_id, $i->bytes_in, $i->bytes_out,
	       $i->latency_us, $i->status, $i->local_port, $i->peer_port);
	printf("D3\t%llu\t%llu\t", arg0, $i->start_us);
	printf("%s\t", str($i->method));
	printf("%s\n", str($i->uri));
	printf("D4\t%llu\t", arg0);
	printf("%s\t", str($i->query));
	printf("%s\t", str($i->protocol));
	printf("%s\n", str($i->vhost));
	printf("D5\t%llu\t", arg0);
	printf("%s\t", str($i->handler));
	printf("%s\t", str($i->local_ip));
	printf("%s\n", str($i->peer_ip));
	printf("D6\t%llu\t", arg0);
	printf("%s\t", str($i->useragent_ip));
	printf("%s\n", str($i->user_agent));
}
usdt:@SO@:httpd:conn__start
{
	printf("C1\t%llu\t%d\t%d\t%d\t", arg0, arg2, arg4, pid);
	printf("%s\t", str(arg1));
	printf("%s\n", str(arg3));
}
usdt:@SO@:httpd:conn__done
{
	printf("C2\t%llu\t%u\t%llu\t%llu\t%llu\t%d\n", arg0, arg1, arg2, arg3, arg4, pid);
}
'''

FIELDS = {
    "S1": ["conn_id", "pid", "tid", "method", "uri"],
    "S2": ["client_ip", "vhost"],
    "D1": ["status", "latency_us", "pid", "tid", "method", "uri"],
    "D2": ["version", "size", "info_id", "conn_id", "bytes_in", "bytes_out",
           "info_latency_us", "info_status", "local_port", "peer_port"],
    "D3": ["start_us", "info_method", "info_uri"],
    "D4": ["query", "protocol", "vhost"],
    "D5": ["handler", "local_ip", "peer_ip"],
    "D6": ["useragent_ip", "user_agent"],
    "C1": ["peer_port", "local_port", "pid", "peer_ip", "local_ip"],
    "C2": ["requests", "duration_us", "bytes_in", "bytes_out", "pid"],
}
INTS = {"conn_id", "pid", "tid", "status", "latency_us", "version", "size", "info_id",
        "bytes_in", "bytes_out", "info_latency_us", "info_status", "local_port",
        "peer_port", "start_us", "requests", "duration_us"}
KIND = {"S": "starts", "D": "dones", "C1": "conn_starts", "C2": "conn_dones"}


class Events:
    """Reassembled probe hits: starts, dones, conn_starts, conn_dones, each a
    dict id -> fields (id is the request or connection id)."""

    def __init__(self, text):
        self.starts, self.dones, self.conn_starts, self.conn_dones = {}, {}, {}, {}
        for line in text.splitlines():
            parts = line.split("\t")
            tag = parts[0]
            if tag not in FIELDS or len(parts) != len(FIELDS[tag]) + 2:
                continue
            key = int(parts[1])
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
