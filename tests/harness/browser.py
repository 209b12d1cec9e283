"""A real headless Chromium (Debian's `chromium`), driven over the DevTools
protocol (python3-websocket): load a page, read the DOM with JavaScript,
take screenshots, and keep every console message, exception and CSP
violation the page caused."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request

try:
    import websocket
except ImportError:  # python3-websocket: make check-deps installs it
    websocket = None

CHROMIUM = shutil.which("chromium")


def available():
    """None, or why a browser test cannot run here."""
    if not CHROMIUM:
        return "chromium is not installed (make check-deps)"
    if websocket is None:
        return "python3-websocket is not installed (make check-deps)"
    return None


class Browser:
    """One Chromium with one page. Use as a context manager."""

    def __init__(self, width=1280, height=1000):
        self.width, self.height, self.mobile = width, height, False
        self.proc = None
        self.ws = None
        self.next_id = 0
        self.replies = {}
        self.events = []          # every DevTools event, in order
        self.cond = threading.Condition()
        self.profile = tempfile.mkdtemp(prefix="dtp-chromium-")

    # -- life -----------------------------------------------------------------
    def __enter__(self):
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--disable-background-networking", "--disable-component-update",
             "--user-data-dir=" + self.profile, "--remote-debugging-port=0",
             "--window-size=%d,%d" % (self.width, self.height), "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + 60
        while not (os.path.exists(port_file) and open(port_file).read().count("\n") >= 1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("chromium did not start (exit %s)" % self.proc.poll())
            time.sleep(0.05)
        port = int(open(port_file).read().split("\n")[0])
        with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=10) as r:
            pages = [p for p in json.load(r) if p["type"] == "page"]
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=60,
                                              suppress_origin=True)
        self.ws.settimeout(None)  # the reader waits for events as long as the page lives
        threading.Thread(target=self._reader, daemon=True).start()
        for domain in ("Page", "Runtime", "Log"):
            self.call(domain + ".enable")
        return self

    def __exit__(self, *exc):
        try:
            if self.ws:
                self.ws.close()
        finally:
            if self.proc and self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            shutil.rmtree(self.profile, ignore_errors=True)

    def _reader(self):
        while True:
            try:
                msg = json.loads(self.ws.recv())
            except Exception:
                with self.cond:
                    self.replies[None] = "closed"
                    self.cond.notify_all()
                return
            with self.cond:
                if "id" in msg:
                    self.replies[msg["id"]] = msg
                else:
                    self.events.append(msg)
                self.cond.notify_all()

    # -- the protocol -----------------------------------------------------------
    def call(self, method, timeout=60, **params):
        with self.cond:
            self.next_id += 1
            i = self.next_id
        self.ws.send(json.dumps({"id": i, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        with self.cond:
            while i not in self.replies:
                left = deadline - time.monotonic()
                if left <= 0 or None in self.replies:
                    raise RuntimeError("no reply to %s" % method)
                self.cond.wait(left)
            reply = self.replies.pop(i)
        if "error" in reply:
            raise RuntimeError("%s: %s" % (method, reply["error"]))
        return reply["result"]

    def open(self, url):
        self.call("Page.navigate", url=url)

    def js(self, expression):
        """The value of a JavaScript expression in the page (JSON-able)."""
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %s" % (expression, r["exceptionDetails"]))
        return r["result"].get("value")

    def wait(self, expression, timeout=60, pause=0.1):
        """Poll until the expression is truthy; its value."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                v = self.js(expression)
            except RuntimeError:
                v = None
            if v:
                return v
            if time.monotonic() > deadline:
                raise AssertionError("page never had %s; console: %s" % (
                    expression, self.console()))
            time.sleep(pause)

    def width_as(self, width, height, mobile=False):
        """Lay the page out at this viewport (a phone: 390 wide)."""
        self.width, self.height, self.mobile = width, height, mobile
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=mobile)

    def screenshot(self, path):
        """The whole page as a PNG: the viewport made as tall as the page
        for the shot (so nothing is cut), then as it was."""
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tall = self.call("Page.getLayoutMetrics")["cssContentSize"]["height"]
        width, height, mobile = self.width, self.height, self.mobile
        self.width_as(width, max(height, int(tall + 0.5)), mobile)
        try:
            r = self.call("Page.captureScreenshot", format="png")
        finally:
            self.width_as(width, height, mobile)
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))
        return path

    def console(self):
        """Console messages, log entries and exceptions, as text lines."""
        out = []
        with self.cond:
            events = list(self.events)
        for e in events:
            p = e.get("params", {})
            if e["method"] == "Runtime.consoleAPICalled":
                out.append("console.%s: %s" % (p["type"], " ".join(
                    str(a.get("value", a.get("description", ""))) for a in p["args"])))
            elif e["method"] == "Log.entryAdded":
                out.append("log.%s (%s): %s" % (p["entry"]["level"], p["entry"]["source"],
                                                p["entry"]["text"]))
            elif e["method"] == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.append("exception: %s %s" % (d.get("text"), d.get("exception", {}).get(
                    "description", "")))
        return out
