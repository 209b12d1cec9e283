"""A real Prometheus for the tests (Debian's `prometheus`), run as a plain
process on loopback with its own config and storage under a temporary
folder, scraping given targets every second. Nothing is waited for by a
fixed sleep: start() polls /-/ready, wait_value() the query API."""
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request

from harness.httpd import free_port

CONFIG = """global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: httpdtrace
    static_configs:
      - targets: [%s]
%s"""


def available():
    return shutil.which("prometheus") and shutil.which("promtool")


class Prometheus:
    def __init__(self, root, targets, features=(), scrape=""):
        """scrape: more settings of the scrape job (YAML, indented 4)."""
        self.root = str(root)
        self.features = list(features)
        self.port = free_port()
        self.conf = os.path.join(self.root, "prometheus.yml")
        with open(self.conf, "w") as f:
            f.write(CONFIG % (", ".join("'%s'" % t for t in targets), scrape))
        self.proc = None

    def start(self, timeout=60):
        self.log = open(os.path.join(self.root, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            ["prometheus", "--config.file=" + self.conf,
             "--storage.tsdb.path=" + os.path.join(self.root, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port] +
            ["--enable-feature=" + f for f in self.features],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.wait(lambda: self._get("/-/ready", raw=True) is not None, timeout, "ready")
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def _get(self, path, raw=False):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path),
                                        timeout=5) as r:
                body = r.read().decode()
        except OSError:
            return None
        return body if raw else json.loads(body)

    def wait(self, cond, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("prometheus exited: " + self.logtext())
            if cond():
                return
            time.sleep(0.2)
        raise AssertionError("prometheus: not %s after %d s\n%s" % (what, timeout,
                                                                     self.logtext()[-2000:]))

    def logtext(self):
        with open(os.path.join(self.root, "prometheus.log")) as f:
            return f.read()

    def query(self, expr):
        """The instant vector of expr: [(labels, value), ...]."""
        r = self._get("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        if not r or r.get("status") != "success":
            return None
        return [(x["metric"], float(x["value"][1])) for x in r["data"]["result"]]

    def exemplars(self, expr):
        """The exemplars Prometheus stored for expr over the last hour:
        [(series labels, exemplar labels, value), ...]."""
        now = time.time()
        r = self._get("/api/v1/query_exemplars?" + urllib.parse.urlencode(
            {"query": expr, "start": now - 3600, "end": now + 60}))
        if not r or r.get("status") != "success":
            return []
        return [(s["seriesLabels"], e["labels"], float(e["value"]))
                for s in r["data"] for e in s["exemplars"]]

    def value(self, expr):
        """The single value of expr, or None (no data yet)."""
        v = self.query(expr)
        return v[0][1] if v and len(v) == 1 else None

    def wait_value(self, expr, want, timeout=60):
        """Poll expr until it equals want; the value it had otherwise."""
        last = [None]

        def ok():
            last[0] = self.value(expr)
            return last[0] == want
        try:
            self.wait(ok, timeout, "%s == %s (last %s)" % (expr, want, last[0]))
        except AssertionError:
            raise AssertionError("%s: %s, not %s" % (expr, last[0], want))
