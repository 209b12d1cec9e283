"""A private Apache httpd for the tests.

Httpd builds a server root under a temporary folder (config, document root,
logs), starts Debian's apache2 in the foreground with `-f` on free ports of
127.0.0.1 and ::1 with mod_dtprovider loaded, and stops it. Nothing here
touches the system's own Apache: own config, own PidFile, own ports.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

MODDIR = "/usr/lib/apache2/modules"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD", os.path.join(REPO, "build"))
MODULE = os.path.join(BUILD, "mod_dtprovider.so")

# The access log format the tests parse: tab-separated, one line a request.
# %{local}p is the connection's port (%p would be the canonical 80); %<q the
# query the client sent and %>R the final request's handler, as the probes
# report them after an ErrorDocument redirect.
LOG_FIELDS = ["status", "latency_us", "method", "uri", "query", "bytes_out",
              "protocol", "vhost", "peer_ip", "peer_port", "local_ip",
              "local_port", "request_line", "handler"]
LOG_FORMAT = r"%>s\t%D\t%m\t%U\t%<q\t%B\t%H\t%v\t%{c}a\t%{remote}p\t%A\t%{local}p\t%r\t%>R"

BASE_MODULES = ["authz_core", "mime", "dir", "alias", "rewrite", "http2",
                "reqtimeout", "remoteip", "headers", "lua"]


def free_port():
    """A TCP port free on both 127.0.0.1 and ::1 (Apache listens on both)."""
    for _ in range(50):
        s4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s4.bind(("127.0.0.1", 0))
        port = s4.getsockname()[1]
        try:
            s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s6.bind(("::1", port))
            s6.close()
            return port
        except OSError:
            continue
        finally:
            s4.close()
    raise RuntimeError("no free port on 127.0.0.1 and ::1")


def settle_mtimes(root):
    """Date every file under root an hour back. Apache gives a file changed
    less than a second before the request a weak ETag (W/"...", 2 bytes
    more), so responses of one file would differ in size by when they came."""
    old = time.time() - 3600
    for dirpath, dirnames, filenames in os.walk(root):
        for n in filenames:
            os.utime(os.path.join(dirpath, n), (old, old))


class Httpd:
    """One Apache instance. `mpm` is event, worker or prefork; `extra` is
    config text appended to the generated httpd.conf; `module` False starts
    it without mod_dtprovider; `port` None picks a free one."""

    # Set on an instance before start() (bench/bench.py does): no access log;
    # one process (-X, no children: callgrind sees every request); a command
    # to run apache2 under (valgrind ...).
    log_requests = True
    # DTraceProviderPhases On: the module's access/type/handler hooks too.
    phases = True
    one_process = False
    wrapper = ()

    def __init__(self, root, mpm="event", extra="", module=MODULE, servername="test.local",
                 port=None, phases=None, log_requests=None):
        self.root = str(root)
        if phases is not None:
            self.phases = phases
        if log_requests is not None:
            self.log_requests = log_requests
        self.mpm = mpm
        self.extra = extra
        self.module = module
        self.servername = servername
        self.port = port or free_port()
        self.proc = None
        self.docroot = os.path.join(self.root, "htdocs")
        self.logdir = os.path.join(self.root, "logs")
        self.conf = os.path.join(self.root, "httpd.conf")
        self.access_log = os.path.join(self.logdir, "access.log")
        self.error_log = os.path.join(self.logdir, "error.log")
        self.pidfile = os.path.join(self.root, "httpd.pid")

    # -- content ------------------------------------------------------------
    def write_docs(self):
        os.makedirs(self.docroot, exist_ok=True)
        os.makedirs(self.logdir, exist_ok=True)
        with open(os.path.join(self.docroot, "index.html"), "w") as f:
            f.write("<html><body>index</body></html>\n")
        # A static file of a known size (406 bytes, as in the field notes).
        with open(os.path.join(self.docroot, "static.html"), "w") as f:
            f.write("x" * 405 + "\n")
        with open(os.path.join(self.docroot, "404.html"), "w") as f:
            f.write("custom not found\n")
        os.makedirs(os.path.join(self.docroot, "dir"), exist_ok=True)
        with open(os.path.join(self.docroot, "dir", "index.html"), "w") as f:
            f.write("dir index\n")
        # POST target: a Lua handler that reads and echoes the body length.
        with open(os.path.join(self.docroot, "post.lua"), "w") as f:
            f.write(
                "function handle(r)\n"
                "  r.content_type = 'text/plain'\n"
                "  local body = r:requestbody() or ''\n"
                "  r:puts('got ' .. #body .. '\\n')\n"
                "  return apache2.OK\n"
                "end\n")
        for dirpath, dirnames, filenames in os.walk(self.root):
            os.chmod(dirpath, 0o755)
            for n in filenames:
                os.chmod(os.path.join(dirpath, n), 0o644)
        settle_mtimes(self.docroot)

    def config_text(self):
        mods = ["mpm_" + self.mpm] + BASE_MODULES
        lines = [
            "ServerRoot %s" % self.root,
            "ServerName %s" % self.servername,
            "Listen 127.0.0.1:%d" % self.port,
            "Listen [::1]:%d" % self.port,
            "PidFile %s" % self.pidfile,
            "User www-data",
            "Group www-data",
            "Mutex file:%s" % self.root,
            "DefaultRuntimeDir %s" % self.root,
        ]
        for m in mods:
            lines.append("LoadModule %s_module %s/mod_%s.so" % (m, MODDIR, m))
        if self.module:
            lines.append("LoadModule dtprovider_module %s" % self.module)
            if self.phases:
                lines.append("DTraceProviderPhases On")
        lines += [
            "TypesConfig /etc/mime.types",
            "DocumentRoot %s" % self.docroot,
            "<Directory %s>" % self.docroot,
            "  Require all granted",
            "  AllowOverride None",
            "</Directory>",
            "DirectoryIndex index.html",
            "ErrorDocument 404 /404.html",
            "AddHandler lua-script .lua",
            "Protocols h2c http/1.1",
            "H2Direct on",
            "KeepAlive On",
            "KeepAliveTimeout 5",
            "MaxKeepAliveRequests 100",
            "LimitRequestLine 1024",
            "RequestReadTimeout handshake=0 header=2 body=5",
            "ErrorLog %s" % self.error_log,
            "LogLevel warn",
            'LogFormat "%s" tests' % LOG_FORMAT,
            "CustomLog %s tests" % self.access_log if self.log_requests else "",
            "StartServers 2",
        ]
        if self.mpm in ("event", "worker"):
            lines += ["ThreadsPerChild 8", "MaxRequestWorkers 16", "ServerLimit 4",
                      "MinSpareThreads 8", "MaxSpareThreads 16"]
        else:
            lines += ["MaxRequestWorkers 16", "ServerLimit 16", "MinSpareServers 2",
                      "MaxSpareServers 4"]
        return "\n".join(lines) + "\n" + self.extra + "\n"

    # -- life cycle ---------------------------------------------------------
    def start(self, timeout=15):
        self.write_docs()
        with open(self.conf, "w") as f:
            f.write(self.config_text())
        cmd = list(self.wrapper) + ["apache2", "-f", self.conf, "-DFOREGROUND"]
        if self.one_process:
            cmd.append("-X")
        self.proc = subprocess.Popen(cmd,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     # prefork signals its whole process group on stop
                                     start_new_session=True)
        self._wait_children(timeout)
        return self

    def _wait_children(self, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("apache2 exited %s: %s\n%s" % (
                    self.proc.returncode, self.proc.stderr.read().decode(errors="replace"),
                    self.read_error_log()))
            if (self.one_process or self.children()) and self._accepts():
                return
            time.sleep(0.05)
        raise RuntimeError("apache2 did not come up on port %d:\n%s" % (
            self.port, self.read_error_log()))

    def _accepts(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def children(self):
        """Pids of the parent's live children."""
        out = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.proc.pid and fields[0] != "Z":
                    out.append(int(pid))
            except (OSError, IndexError):
                pass
        return out

    def pids(self):
        return [self.proc.pid] + self.children()

    def graceful(self):
        """Graceful restart (SIGUSR1): old children finish, new ones start."""
        os.kill(self.proc.pid, signal.SIGUSR1)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            self.proc.wait(timeout=5)

    # -- results ------------------------------------------------------------
    def url(self, path="/", v6=False):
        host = "[::1]" if v6 else "127.0.0.1"
        return "http://%s:%d%s" % (host, self.port, path)

    def read_error_log(self):
        try:
            with open(self.error_log) as f:
                return f.read()
        except OSError:
            return ""

    def access_entries(self):
        """The access log, one dict per line (LOG_FIELDS), as Apache wrote it."""
        out = []
        try:
            with open(self.access_log) as f:
                for line in f:
                    vals = line.rstrip("\n").split("\t")
                    out.append(dict(zip(LOG_FIELDS, vals)))
        except OSError:
            pass
        return out

    def wait_access_lines(self, n, timeout=10):
        """Wait until the access log has at least n lines (logging can come
        after the response in the event MPM)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            entries = self.access_entries()
            if len(entries) >= n:
                return entries
            time.sleep(0.05)
        return self.access_entries()
