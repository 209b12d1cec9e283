"""The exporter's dashboard in a real headless Chromium (and Firefox ESR),
against a real Apache: the numbers the page shows (read from its DOM) must
equal the traffic sent; a request held in flight must appear with its age, method,
vhost and uri (no query) and go when it ends; a uri carrying <script> and
control bytes must show as escaped text and never run; the page must
break no Content-Security-Policy rule and fit a phone's width. Screenshots
go to build/screenshots/."""
import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from harness import browser
from harness.httpd import BUILD, MODULE, free_port
from harness.httpdtrace import esc

SHOTS = os.path.join(BUILD, "screenshots")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
# A uri that would run as script if it were ever inserted as HTML, with an
# escape sequence and a bell for a terminal (Apache reads it with Unsafe,
# and answers 400).
HOSTILE = b"/<script>window.pwned=1</script><img/src=x/onerror=window.pwned=2>\x1b[31m\x07x"
EXTRA = "HttpProtocolOptions Unsafe\n"

HOLD_LUA = """function handle(r)
  r.content_type = 'text/plain'
  while not io.open('%s') do os.execute('sleep 0.05') end
  r:puts('held\\n')
  return apache2.OK
end
"""


def need(why):
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)


@pytest.fixture
def chromium():
    need(browser.available())


@pytest.fixture
def firefox():
    need(browser.available(browser.FIREFOX, "firefox-esr"))


def exporter(httpdtrace, *args):
    port = free_port()
    t = httpdtrace("exporter", "-m", MODULE, "--listen", "127.0.0.1:%d" % port, *args)
    t.port = port
    return t


def curl(h, path, *args):
    return subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                           "Host: test.local", *args, h.url(path)],
                          capture_output=True, text=True).stdout


def raw_request(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        while s.recv(65536):
            pass


def text_of(b, id_):
    return b.js("document.getElementById(%r).textContent" % id_)


def rows(b, table):
    """The cells' text of a table's body, row by row."""
    return b.js("Array.from(document.querySelectorAll('#%s tbody tr')).map("
                "tr => Array.from(tr.cells).map(td => td.textContent))" % table)


def wait_text(b, id_, want, timeout=60):
    b.wait("document.getElementById(%r).textContent === %r" % (id_, str(want)),
           timeout=timeout)


def test_the_page_shows_what_was_sent(httpdtrace, make_httpd, chromium):
    h = make_httpd("event", extra=EXTRA)
    release = os.path.join(h.root, "release")
    with open(os.path.join(h.docroot, "hold.lua"), "w") as f:
        f.write(HOLD_LUA % release)
    os.chmod(os.path.join(h.docroot, "hold.lua"), 0o644)
    t = exporter(httpdtrace)
    with browser.Chromium() as b:
        b.open("http://127.0.0.1:%d/" % t.port)
        # the first update has come: top's table counts from now on
        b.wait("document.getElementById('status').dataset.seq")
        assert text_of(b, "status") == "live"

        for _ in range(7):
            assert curl(h, "/static.html") == "200"
        for _ in range(3):
            assert curl(h, "/missing") == "404"
        for _ in range(2):
            assert curl(h, "/static.html", "-X", "FOO") == "501"
        raw_request(h.port, b"GET " + HOSTILE + b" HTTP/1.1\r\nHost: test.local\r\n"
                    b"Connection: close\r\n\r\n")
        h.wait_access_lines(13)

        # the window's counts per class, and the heatmap holds them all
        for cls, n in (("2xx", 7), ("4xx", 4), ("5xx", 2), ("3xx", 0), ("1xx", 0),
                       ("other", 0)):
            wait_text(b, "win-" + cls, n)
        wait_text(b, "heat-n", 13)
        assert text_of(b, "win-p50") != "-"

        # top's table: by requests, the static file first (the 501s are FOO
        # /static.html), with its vhost
        b.wait("document.querySelectorAll('#top-count tbody tr').length === 3")
        top = rows(b, "top-count")
        assert top[0][:3] == ["9", "test.local", "/static.html"], top
        by_uri = {r[2]: r for r in top}
        assert sorted(by_uri) == sorted(["/static.html", "/missing", esc(HOSTILE)])
        assert by_uri["/missing"][0] == "3"
        assert by_uri[esc(HOSTILE)][0] == "1"
        assert rows(b, "top-vhosts")[0][:2] == ["13", "test.local"]

        # the hostile uri is text: escaped as the access log would, never run
        assert by_uri[esc(HOSTILE)][1:3] == ["test.local", esc(HOSTILE)]
        assert b.js("window.pwned === undefined")
        assert b.js("document.scripts.length") == 2
        assert b.js("document.querySelectorAll('main img, main script').length") == 0

        # a request held in flight: its row, oldest first, with no query
        client = threading.Thread(target=curl, args=(h, "/hold.lua?secret=1"))
        client.start()
        try:
            b.wait("document.querySelectorAll('#inflight tbody tr').length === 1")
            wait_text(b, "inflight-n", 1)
            row = rows(b, "inflight")[0]
            assert row[1:4] == ["GET", "test.local", "/hold.lua"], row
            assert int(row[4]) in h.pids()
            age1 = b.js("document.querySelector('#inflight tbody td').textContent")
            b.wait("document.querySelector('#inflight tbody td') && "
                   "document.querySelector('#inflight tbody td').textContent !== %r" % age1)
            assert b.js("document.documentElement.scrollWidth") <= b.js(
                "document.documentElement.clientWidth")
            b.screenshot(os.path.join(SHOTS, "dashboard-desktop.png"))
        finally:
            open(release, "w").close()
            client.join()
        b.wait("document.querySelectorAll('#inflight tbody tr').length === 0")
        wait_text(b, "inflight-n", 0)
        wait_text(b, "win-2xx", 8)
        wait_text(b, "heat-n", 14)

        # connections: every curl and the raw one opened and closed one
        wait_text(b, "conns-opened", 14)
        wait_text(b, "conns-open", 0)
        assert text_of(b, "conns-per") == "1.00"
        # Apache and the exporter's own health
        apache = text_of(b, "apache")
        assert apache.startswith("Apache/2.4") and " \u00b7 event \u00b7 " in apache, apache
        assert "(pid %d)" % h.proc.pid in apache
        # 200 GET, 404 GET, 501 _OTHER, and the hostile uri: 400 GET
        assert text_of(b, "health-series") == "4", get(t.port, "/metrics")[2].decode()
        assert text_of(b, "health-folded") == "0"
        assert text_of(b, "health-pages") == "1"
        assert text_of(b, "phases-box") == "" and "hidden" in b.js(
            "document.getElementById('phases-box').className")

        # a phone's width: nothing wider than the screen
        b.width_as(390, 844, mobile=True)
        b.wait("document.documentElement.scrollWidth <= 390")
        b.screenshot(os.path.join(SHOTS, "dashboard-phone.png"))

        # nothing went wrong in the page: no CSP violation, no error
        assert b.console() == [], b.console()


def test_phases_when_asked(httpdtrace, make_httpd, chromium):
    h = make_httpd("event")
    t = exporter(httpdtrace, "--phases")
    with browser.Chromium() as b:
        b.open("http://127.0.0.1:%d/" % t.port)
        b.wait("document.getElementById('status').dataset.seq")
        assert curl(h, "/static.html") == "200"
        h.wait_access_lines(1)
        b.wait("!document.getElementById('phases-box').classList.contains('hidden')")
        assert "hidden" in b.js("document.getElementById('phases-off').className")
        labels = b.wait("(() => { const c = Chart.getChart('phase-chart'); "
                        "return c.data.datasets[0].data.some(v => v > 0) && c.data.labels; })()")
        assert labels == ["read", "translate", "access", "type", "handler", "log"]
        assert b.console() == [], b.console()


def test_firefox_shows_the_same(httpdtrace, make_httpd, firefox):
    """The page in Firefox ESR: the same numbers, the charts drawn, the
    hostile uri as text, no error."""
    h = make_httpd("event", extra=EXTRA)
    t = exporter(httpdtrace)
    with browser.Firefox() as b:
        b.open("http://127.0.0.1:%d/" % t.port)
        b.wait("document.getElementById('status').dataset.seq")
        for _ in range(3):
            assert curl(h, "/static.html") == "200"
        assert curl(h, "/missing") == "404"
        raw_request(h.port, b"GET " + HOSTILE + b" HTTP/1.1\r\nHost: test.local\r\n"
                    b"Connection: close\r\n\r\n")
        h.wait_access_lines(5)
        wait_text(b, "win-2xx", 3)
        wait_text(b, "win-4xx", 2)
        wait_text(b, "heat-n", 5)
        b.wait("document.querySelectorAll('#top-count tbody tr').length === 3")
        assert sorted(r[2] for r in rows(b, "top-count")) == sorted(
            ["/static.html", "/missing", esc(HOSTILE)])
        assert b.js("window.pwned === undefined")
        assert b.js("document.querySelectorAll('main img, main script').length") == 0
        # Chart.js drew both charts: the heatmap's 18 rows and 3 lines
        assert b.js("Chart.getChart('heat-chart').data.datasets.length") == 21
        assert b.js("Chart.getChart('rate-chart').data.labels.length") > 0
        b.screenshot(os.path.join(SHOTS, "dashboard-firefox.png"))
        assert [line for line in b.console() if ".error" in line or ".warn" in line] == []


def get(port, path, method="GET"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method)
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, dict(r.headers), r.read()


def test_every_file_of_the_page_has_the_policy(httpdtrace, make_httpd):
    make_httpd("event")
    t = exporter(httpdtrace)
    for path, ctype in (("/", "text/html"), ("/dashboard.mjs", "text/javascript"),
                        ("/dash_core.mjs", "text/javascript"),
                        ("/dashboard.css", "text/css"),
                        ("/chart.min.js", "text/javascript")):
        status, headers, body = get(t.port, path)
        assert status == 200 and headers["Content-Type"].startswith(ctype), (path, headers)
        assert headers["Content-Security-Policy"] == CSP
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert body, path
    page = get(t.port, "/")[2].decode()
    # no inline script or style: every script and sheet is a file of its own
    assert page.count("<script") == 2 and page.count('<script src="/') == 1
    assert '<script type="module" src="/dashboard.mjs">' in page
    assert "<style" not in page and "style=" not in page and "onload" not in page
    # Chart.js is Debian's, built in whole
    with open("/usr/share/javascript/chart.js/chart.min.js", "rb") as f:
        assert get(t.port, "/chart.min.js")[2] == f.read()
    status, headers, body = get(t.port, "/", "HEAD")
    assert status == 200 and body == b""
    assert get(t.port, "/favicon.ico")[0] == 204


def test_the_stream(httpdtrace, make_httpd):
    """/events: a hello with the history, then an update a second; at most
    32 pages at once, the next gets 503 and the exporter goes on; Ctrl-C
    ends the streams."""
    make_httpd("event")
    t = exporter(httpdtrace)
    streams = []
    try:
        for _ in range(32):
            s = socket.create_connection(("127.0.0.1", t.port), timeout=30)
            s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            streams.append(s)
        first = b""
        while b"event: update" not in first:
            chunk = streams[0].recv(65536)
            assert chunk, first
            first += chunk
        head = first.split(b"\r\n\r\n")[0].decode()
        assert "Content-Type: text/event-stream" in head, head
        assert first.index(b"event: hello") < first.index(b"event: update")
        with pytest.raises(urllib.error.HTTPError) as e:
            get(t.port, "/events")
        assert e.value.code == 503
    finally:
        for s in streams:
            s.close()
    # the pages are gone: a new one is served again
    deadline = time.monotonic() + 30
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", t.port), timeout=30)
            s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            if s.recv(100).startswith(b"HTTP/1.1 200"):
                s.close()
                break
            s.close()
        except OSError:
            pass
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert get(t.port, "/metrics")[0] == 200
    # Ctrl-C with a page open: the stream ends, the exporter exits cleanly
    s = socket.create_connection(("127.0.0.1", t.port), timeout=30)
    s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    assert s.recv(100).startswith(b"HTTP/1.1 200")
    assert t.stop().rc == 0, t.describe()
    s.settimeout(30)
    while s.recv(65536):
        pass
    s.close()


def test_no_dashboard(httpdtrace, make_httpd):
    make_httpd("event")
    t = exporter(httpdtrace, "--no-dashboard")
    assert not any("dashboard at" in line for line in t.err)
    page = get(t.port, "/")[2].decode()
    assert 'href="/metrics"' in page and "<script" not in page
    for path in ("/events", "/dashboard.mjs", "/chart.min.js"):
        with pytest.raises(urllib.error.HTTPError) as e:
            get(t.port, path)
        assert e.value.code == 404
    assert get(t.port, "/metrics")[0] == 200
