"""Real headless browsers from Debian, driven over their own remote
protocols with python3-websocket: Chromium (`chromium`) over the DevTools
protocol, Firefox (`firefox-esr`) over WebDriver BiDi. Each loads a page,
reads the DOM with JavaScript, takes screenshots, and keeps every console
message, error and CSP violation the page caused.

    with browser.Chromium() as b:      # or browser.Firefox()
        b.open(url)
        b.wait("document.title")       # poll until truthy
"""
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
FIREFOX = shutil.which("firefox-esr")


def available(binary=CHROMIUM, package="chromium"):
    """None, or why a browser test cannot run here."""
    if not binary:
        return "%s is not installed (make check-deps)" % package
    if websocket is None:
        return "python3-websocket is not installed (make check-deps)"
    return None


class _Remote:
    """One browser with one page, over a JSON message protocol on a
    websocket: requests {id, method, params}, replies by id, events
    otherwise. Use as a context manager."""

    name = "browser"

    def __init__(self, width=1280, height=1000):
        self.width, self.height, self.mobile = width, height, False
        self.proc = None
        self.ws = None
        self.next_id = 0
        self.replies = {}
        self.events = []          # every event the browser sent, in order
        self.cond = threading.Condition()
        self.profile = tempfile.mkdtemp(prefix="dtp-%s-" % self.name)

    # -- life -----------------------------------------------------------------
    def __enter__(self):
        try:
            self._launch()
        except BaseException:
            self.__exit__()
            raise
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

    def _start(self, argv):
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _wait_file(self, path, ready):
        """The text of a file the browser writes once it listens."""
        deadline = time.monotonic() + 60
        while True:
            text = open(path).read() if os.path.exists(path) else ""
            if ready(text):
                return text
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("%s did not start (exit %s)" % (self.name, self.proc.poll()))
            time.sleep(0.05)

    def _connect(self, url):
        self.ws = websocket.create_connection(url, timeout=60, suppress_origin=True)
        self.ws.settimeout(None)  # the reader waits for events as long as the page lives
        threading.Thread(target=self._reader, daemon=True).start()

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
                if msg.get("id") is not None:
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
                    raise RuntimeError("%s: no reply to %s" % (self.name, method))
                self.cond.wait(left)
            reply = self.replies.pop(i)
        if "error" in reply:
            raise RuntimeError("%s: %s" % (method, reply.get("message") or reply["error"]))
        return reply["result"]

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

    def _events(self, *methods):
        with self.cond:
            return [e for e in self.events if e.get("method") in methods]


class Chromium(_Remote):
    """Debian's Chromium, headless, over the DevTools protocol."""

    name = "chromium"

    def _launch(self):
        self._start([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
                     "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                     "--disable-background-networking", "--disable-component-update",
                     "--user-data-dir=" + self.profile, "--remote-debugging-port=0",
                     "--window-size=%d,%d" % (self.width, self.height), "about:blank"])
        text = self._wait_file(os.path.join(self.profile, "DevToolsActivePort"),
                               lambda t: t.count("\n") >= 1)
        port = int(text.split("\n")[0])
        with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=10) as r:
            pages = [p for p in json.load(r) if p["type"] == "page"]
        self._connect(pages[0]["webSocketDebuggerUrl"])
        for domain in ("Page", "Runtime", "Log"):
            self.call(domain + ".enable")

    def open(self, url):
        self.call("Page.navigate", url=url)

    def js(self, expression):
        """The value of a JavaScript expression in the page (JSON-able)."""
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %s" % (expression, r["exceptionDetails"]))
        return r["result"].get("value")

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
        for e in self._events("Runtime.consoleAPICalled", "Log.entryAdded",
                              "Runtime.exceptionThrown"):
            p = e.get("params", {})
            if e["method"] == "Runtime.consoleAPICalled":
                out.append("console.%s: %s" % (p["type"], " ".join(
                    str(a.get("value", a.get("description", ""))) for a in p["args"])))
            elif e["method"] == "Log.entryAdded":
                out.append("log.%s (%s): %s" % (p["entry"]["level"], p["entry"]["source"],
                                                p["entry"]["text"]))
            else:
                d = p["exceptionDetails"]
                out.append("exception: %s %s" % (d.get("text"), d.get("exception", {}).get(
                    "description", "")))
        return out


class Firefox(_Remote):
    """Debian's Firefox ESR, headless, over WebDriver BiDi."""

    name = "firefox"

    def _launch(self):
        self._start([FIREFOX, "--headless", "--no-remote", "--profile", self.profile,
                     "--remote-debugging-port=0", "--width=%d" % self.width,
                     "--height=%d" % self.height, "about:blank"])
        text = self._wait_file(os.path.join(self.profile, "WebDriverBiDiServer.json"),
                               lambda t: t.rstrip().endswith("}"))
        self._connect("ws://%s:%d/session" % (json.loads(text)["ws_host"],
                                              json.loads(text)["ws_port"]))
        self.call("session.new", capabilities={})
        self.call("session.subscribe", events=["log.entryAdded"])
        self.context = self.call("browsingContext.getTree")["contexts"][0]["context"]

    def open(self, url):
        self.call("browsingContext.navigate", context=self.context, url=url, wait="complete")

    def js(self, expression):
        r = self.call("script.evaluate", expression=expression, awaitPromise=True,
                      target={"context": self.context}, resultOwnership="none",
                      serializationOptions={"maxObjectDepth": 4})
        if r.get("type") == "exception":
            raise RuntimeError("%s: %s" % (expression, r["exceptionDetails"]["text"]))
        return self._value(r["result"])

    def _value(self, v):
        """A BiDi remote value as Python."""
        t = v["type"]
        if t in ("undefined", "null"):
            return None
        if t == "array":
            return [self._value(x) for x in v.get("value", [])]
        if t == "object":
            return {k: self._value(x) for k, x in v.get("value", [])}
        if t == "number" and isinstance(v["value"], str):  # NaN, Infinity, -0
            return float(v["value"].replace("Infinity", "inf"))
        return v.get("value")

    def screenshot(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        r = self.call("browsingContext.captureScreenshot", context=self.context,
                      origin="document")
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))
        return path

    def console(self):
        out = []
        for e in self._events("log.entryAdded"):
            p = e["params"]
            out.append("%s.%s: %s" % (p.get("type"), p.get("level"), p.get("text")))
        return out
