"""Running httpdtrace (build/httpdtrace) in the tests.

Httpdtrace(args) starts `httpdtrace ARGS...`, waits for its "tracing N
probes" line on stderr (printed once every probe is attached), and stop()
sends SIGINT as a user would and returns the finished run: stdout, stderr,
exit status. parse_requests() turns `requests` human output into dicts.
"""
import json
import os
import re
import subprocess
import threading
import time

from harness.httpd import BUILD
from harness.tracer import Stopped, TracerKilled, describe, interrupt

TOOL = os.path.join(BUILD, "httpdtrace")
READY = re.compile(r"^httpdtrace: tracing \d+ probes? in ")


def esc(raw):
    """What httpdtrace prints for these bytes a client sent (fmt_esc): a
    control byte or one >= 0x80 as \\xNN, a backslash doubled."""
    out = []
    for b in raw:
        if b == 0x5c:
            out.append("\\\\")
        elif 0x20 <= b < 0x7f:
            out.append(chr(b))
        else:
            out.append("\\x%02x" % b)
    return "".join(out)


class Httpdtrace:
    def __init__(self, *args):
        self.args = [TOOL] + [str(a) for a in args]
        self.proc = None
        self.out = []
        self.err = []
        self.rc = None
        self.stopped = None

    def start(self, timeout=30):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, errors="replace")
        ready = threading.Event()

        def read_err():
            for line in self.proc.stderr:
                self.err.append(line)
                if READY.match(line):
                    ready.set()

        def read_out():
            for line in self.proc.stdout:
                self.out.append(line)

        self._threads = [threading.Thread(target=read_err, daemon=True),
                         threading.Thread(target=read_out, daemon=True)]
        for t in self._threads:
            t.start()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if ready.wait(0.1):
                return self
            if self.proc.poll() is not None:
                break
        self.kill()
        raise RuntimeError("httpdtrace did not attach: %s" % self.describe())

    def stop(self, settle=0.3, patience=60):
        """SIGINT after `settle` seconds (events are drained every 50 ms);
        waits for the exit and the output. httpdtrace's loop never sleeps
        longer than a slice, so one SIGINT must do: if it is still running
        after `patience` seconds, a second SIGINT tells a lost signal from a
        hang, and either fails the test with how it ended and its stderr."""
        time.sleep(settle)
        self.stopped = interrupt(self.proc, repeat=patience, limit=patience + 10)
        self.rc = self.stopped.rc
        for t in self._threads:
            t.join(10)
        if self.stopped.killed or self.stopped.sigints > 1:
            raise TracerKilled("httpdtrace did not end on the first SIGINT: " + self.describe())
        return self

    def wait_exit(self, timeout=60):
        """Wait for a run that ends by itself ([interval] [count]); fails
        the test with how it ended and its stderr if it does not."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TracerKilled("httpdtrace did not end by itself in %d s: %s"
                               % (timeout, self.describe()))
        return self.stop(settle=0)

    def describe(self):
        """How the run ended and its stderr, for assertion messages."""
        return describe("httpdtrace " + " ".join(self.args[1:]), self.stopped, self.err)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            self.stopped = self.stopped or Stopped(self.proc.returncode, 0.0, 0, killed=True)
        elif self.proc and not self.stopped:
            self.stopped = Stopped(self.proc.returncode, 0.0, 0)

    @property
    def stdout(self):
        return "".join(self.out)

    @property
    def stderr(self):
        return "".join(self.err)

    def json(self, kind="request"):
        """The JSON lines of one "type" (every line must parse)."""
        objs = [json.loads(line) for line in self.out]
        return [o for o in objs if o["type"] == kind]


def run(*args, timeout=30, **kw):
    """Run httpdtrace to completion (for errors and `list`)."""
    return subprocess.run([TOOL] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, **kw)


REQUEST_LINE = re.compile(
    r"^(?P<time>\S+)\s+(?P<latency_us>\d+)us\s+(?P<status>\d{3})\s+(?P<local>\S+)\s+"
    r"(?P<remote>\S+)\s+(?P<method>\S+)\s+(?P<uri>.*)$")


def split_addr(addr):
    """'127.0.0.1:80' or '[::1]:80' -> (ip, port)."""
    m = re.match(r"^\[(.*)\]:(\d+)$", addr) or re.match(r"^([^:]*):(\d+)$", addr)
    assert m, addr
    return m.group(1), int(m.group(2))


def parse_requests(text):
    """`httpdtrace requests` output -> list of dicts; the header must come
    first and every other line must parse."""
    lines = text.splitlines()
    assert lines and lines[0].split() == ["TIME", "LATENCY", "STA", "LOCAL", "REMOTE",
                                          "METHOD", "URI"], text[:200]
    out = []
    for line in lines[1:]:
        m = REQUEST_LINE.match(line)
        assert m, "unparsable line: %r" % line
        d = m.groupdict()
        d["latency_us"] = int(d["latency_us"])
        d["status"] = int(d["status"])
        d["local_ip"], d["local_port"] = split_addr(d["local"])
        d["peer_ip"], d["peer_port"] = split_addr(d["remote"])
        out.append(d)
    return out
