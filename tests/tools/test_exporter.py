"""`httpdtrace exporter` on a real Apache, scraped by a real Prometheus:
PromQL results must equal the traffic sent (counts per status, method and
vhost, histogram counts, a slow handler's quantile in its bucket,
connections), every exposition must pass `promtool check metrics`, and the
bounds (series cap), the HTTP endpoint and the errors must behave as the
man page says."""
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from harness import MPMS, handlers, semaphores
from harness.httpd import MODULE, free_port
from harness.httpdtrace import TOOL
from harness.prometheus import Prometheus, available

DUR = "http_server_request_duration_seconds"
# The first vhost of a port is its default: test.local stays the default.
VHOST_CONF = """<VirtualHost *:%(port)d>
  ServerName test.local
  DocumentRoot %(docroot)s
</VirtualHost>
<VirtualHost *:%(port)d>
  ServerName other.local
  DocumentRoot %(docroot)s
</VirtualHost>
"""


def metrics(port, path="/metrics"):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
        return r.read().decode()


def promtool_ok(text):
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def samples(text, name):
    """{labels-string: value} of one metric's samples."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^%s(\{.*\})? (\S+)$" % re.escape(name), line)
        if m:
            out[m.group(1) or ""] = float(m.group(2))
    return out


TRACE_ID, SPAN_ID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


def curl(h, path, *args, host="test.local"):
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                        "Host: " + host, *args, h.url(path)], capture_output=True, text=True)
    return r.stdout


def said(t, text, timeout=30):
    """Wait until the tool's stderr has a line containing text (what it
    prints after the "tracing" line its harness waits for)."""
    deadline = time.monotonic() + timeout
    while not any(text in line for line in t.err):
        assert time.monotonic() < deadline, "never said %r: %s" % (text, t.err)
        time.sleep(0.02)
    return [line for line in t.err if text in line]


def exporter(httpdtrace, *args):
    port = free_port()
    t = httpdtrace("exporter", "-m", MODULE, "--listen", "127.0.0.1:%d" % port, *args)
    t.port = port
    return t


@pytest.fixture
def prometheus(tmp_path_factory):
    if not available():
        pytest.fail("prometheus and promtool are not installed (make check-deps)")
    started = []

    def make(targets, features=(), scrape=""):
        p = Prometheus(tmp_path_factory.mktemp("prometheus"), targets, features, scrape)
        started.append(p)
        return p.start()

    yield make
    for p in started:
        p.stop()


@pytest.mark.parametrize("mpm", MPMS)
def test_prometheus_sees_what_was_sent(httpdtrace, make_httpd, prometheus, mpm):
    h = make_httpd(mpm)
    handlers.install(h)
    t = exporter(httpdtrace)
    p = prometheus(["127.0.0.1:%d" % t.port])
    sent = {"200": 0, "404": 0, "501": 0}
    for _ in range(5):
        assert curl(h, "/static.html") == "200"
        sent["200"] += 1
    for _ in range(3):
        assert curl(h, "/missing") == "404"
        sent["404"] += 1
    for _ in range(2):
        assert curl(h, "/post.lua", "--data-binary", "x" * 3000) == "200"
        sent["200"] += 1
    assert curl(h, "/static.html", "-X", "FOO") == "501"
    sent["501"] += 1
    assert curl(h, "/sleep.lua") == "200"
    sent["200"] += 1
    total = sum(sent.values())
    h.wait_access_lines(total)
    p.wait_value("sum(%s_count)" % DUR, total)
    for status, n in sent.items():
        assert p.value('sum(%s_count{http_response_status_code="%s"})' % (DUR, status)) == n
    assert p.value('sum(%s_count{http_request_method="POST"})' % DUR) == 2
    assert p.value('sum(%s_count{http_request_method="_OTHER"})' % DUR) == 1
    assert p.value('sum(%s_count{http_request_method="GET"})' % DUR) == total - 3
    assert p.value('sum(%s_count{server_address="test.local"})' % DUR) == total
    assert p.value('sum(%s_count{network_protocol_version="1.1"})' % DUR) == total
    # the histograms count every request, and the request bodies sum up
    assert p.value('sum(http_server_response_body_size_bytes_count)') == total
    assert p.value('sum(http_server_request_body_size_bytes_sum)') == 6000
    # the slow handler (0.2 s): its quantile is in the bucket that holds 0.2 s
    q = p.value('histogram_quantile(1, sum by (le) (%s_bucket{http_response_status_code='
                '"200",http_request_method="GET"}))' % DUR)
    assert 0.1 < q <= 0.25, q
    # one connection per curl
    p.wait_value("httpd_connections_opened_total", total)
    p.wait_value('sum(httpd_connections_closed_total)', total)
    assert p.value("httpd_connections_open") == 0
    assert p.value("httpd_connection_requests_count") == total
    assert p.value('httpd_info{mpm="%s"}' % mpm) == 1
    promtool_ok(metrics(t.port))


def test_vhosts_and_methods_as_labels(httpdtrace, make_httpd):
    h = make_httpd("event")
    h.stop()
    h.extra = VHOST_CONF % {"port": h.port, "docroot": h.docroot}
    h.start()
    t = exporter(httpdtrace)
    for host in ("test.local", "other.local", "other.local"):
        assert curl(h, "/static.html", host=host) == "200"
    assert curl(h, "/static.html", "-I") == "200"
    h.wait_access_lines(4)
    text = metrics(t.port)
    promtool_ok(text)
    counts = samples(text, DUR + "_count")
    assert counts == {
        '{http_request_method="GET",http_response_status_code="200",'
        'network_protocol_version="1.1",server_address="test.local"}': 1,
        '{http_request_method="GET",http_response_status_code="200",'
        'network_protocol_version="1.1",server_address="other.local"}': 2,
        '{http_request_method="HEAD",http_response_status_code="200",'
        'network_protocol_version="1.1",server_address="test.local"}': 1,
    }, text


def test_http2_is_protocol_2(httpdtrace, make_httpd):
    h = make_httpd("event")
    t = exporter(httpdtrace)
    assert curl(h, "/static.html", "--http2-prior-knowledge") == "200"
    h.wait_access_lines(1)
    counts = samples(metrics(t.port), DUR + "_count")
    assert list(counts.values()) == [1] and 'network_protocol_version="2"' in list(counts)[0]


def slow_handler(h, seconds):
    """/slow.lua answers after `seconds` off-CPU."""
    with open(os.path.join(h.docroot, "slow.lua"), "w") as f:
        f.write("function handle(r)\n  os.execute('sleep %d')\n  r:puts('x')\n"
                "  return apache2.OK\nend\n" % seconds)
    os.chmod(os.path.join(h.docroot, "slow.lua"), 0o644)


def wait_active(t, n, pause=0.05):
    """Scrape until http_server_active_requests reads n; the last text."""
    deadline = time.monotonic() + 30
    while True:
        text = metrics(t.port)
        if samples(text, "http_server_active_requests") == {"": n}:
            return text
        assert time.monotonic() < deadline, text
        time.sleep(pause)


def test_active_requests_while_one_is_in_flight(httpdtrace, make_httpd):
    h = make_httpd("event")
    slow_handler(h, 3)
    t = exporter(httpdtrace)
    client = threading.Thread(target=curl, args=(h, "/slow.lua"))
    client.start()
    text = wait_active(t, 1)
    age = samples(text, "httpd_oldest_request_age_seconds")[""]
    assert 0 < age < 3.5
    client.join()
    h.wait_access_lines(1)
    text = metrics(t.port)
    assert samples(text, "http_server_active_requests") == {"": 0}
    assert samples(text, "httpd_oldest_request_age_seconds") == {"": 0}


def test_a_request_whose_child_died_is_not_in_flight(httpdtrace, make_httpd):
    """A child killed in the middle of a request never fires its
    request-done: the next scrape sees its process gone and stops counting
    the request as active."""
    h = make_httpd("prefork")
    slow_handler(h, 30)
    t = exporter(httpdtrace)
    client = threading.Thread(target=curl, args=(h, "/slow.lua", "-m", "60"), daemon=True)
    client.start()
    wait_active(t, 1)
    for pid in h.children():            # the one serving it among them
        os.kill(pid, signal.SIGKILL)
    text = wait_active(t, 0, pause=0.1)
    assert samples(text, "httpd_oldest_request_age_seconds") == {"": 0}
    client.join(timeout=60)
    # the server goes on: a new child serves, and is counted
    assert curl(h, "/static.html") == "200"


def test_series_cap_folds_into_other(httpdtrace, make_httpd):
    """--max-series 2: the first two label sets are kept, the requests of any
    further one go to the _other series and are counted as folded; the
    total stays exact."""
    h = make_httpd("event")
    t = exporter(httpdtrace, "--max-series", "2")
    assert curl(h, "/static.html") == "200"
    assert curl(h, "/missing") == "404"
    h.wait_access_lines(2)
    for code, path, args in (("501", "/static.html", ["-X", "FOO"]),
                             ("200", "/static.html", ["-I"]),
                             ("200", "/static.html", ["-I"])):
        assert curl(h, path, *args) == code
    h.wait_access_lines(5)
    text = metrics(t.port)
    promtool_ok(text)
    counts = samples(text, DUR + "_count")
    assert len(counts) == 3 and sum(counts.values()) == 5, text
    other = [v for k, v in counts.items() if 'server_address="_other"' in k]
    assert other == [3]
    assert samples(text, "httpdtrace_exporter_requests_folded_total") == {"": 3}
    assert samples(text, "httpdtrace_exporter_max_series") == {"": 2}


def test_counters_survive_a_graceful_restart(httpdtrace, make_httpd):
    h = make_httpd("prefork")
    t = exporter(httpdtrace)
    for _ in range(3):
        assert curl(h, "/static.html") == "200"
    h.wait_access_lines(3)
    old = set(h.children())
    h.graceful()
    deadline = time.monotonic() + 30
    while set(h.children()) & old or not h.children():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    for _ in range(2):
        assert curl(h, "/static.html") == "200"
    h.wait_access_lines(5)
    counts = samples(metrics(t.port), DUR + "_count")
    assert sum(v for k, v in counts.items() if '"200"' in k) == 5


def test_module_loaded_after_the_exporter_started(httpdtrace, make_httpd, tracing):
    port = free_port()
    t = httpdtrace("exporter", "-m", MODULE, "--listen", "127.0.0.1:%d" % port)
    assert "no running process has %s mapped" % MODULE in "".join(t.err), t.err
    h = make_httpd("worker")
    assert curl(h, "/static.html") == "200"
    h.wait_access_lines(1)
    assert sum(samples(metrics(port), DUR + "_count").values()) == 1


def test_two_exporters_count_the_same(httpdtrace, make_httpd):
    h = make_httpd("event")
    a, b = exporter(httpdtrace), exporter(httpdtrace)
    for _ in range(4):
        assert curl(h, "/static.html") == "200"
    h.wait_access_lines(4)
    assert samples(metrics(a.port), DUR + "_count") == samples(metrics(b.port), DUR + "_count")
    assert sum(samples(metrics(a.port), DUR + "_count").values()) == 4


def test_ipv6_listen(httpdtrace, make_httpd):
    h = make_httpd("event")
    port = free_port()
    t = httpdtrace("exporter", "-m", MODULE, "--listen", "[::1]:%d" % port)
    with urllib.request.urlopen("http://[::1]:%d/metrics" % port, timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert t.proc.poll() is None


def test_the_endpoint(httpdtrace, make_httpd):
    """/ is the dashboard (test_dashboard.py), which links /metrics; other
    paths 404; other methods 405 with Allow; headers too big are refused;
    the exporter goes on."""
    h = make_httpd("event")
    t = exporter(httpdtrace)
    page = metrics(t.port, "/")
    assert "<title>httpdtrace: " in page and 'href="/metrics"' in page
    for path, code in (("/nope", 404), ("/metrics/x", 404)):
        with pytest.raises(urllib.error.HTTPError) as e:
            metrics(t.port, path)
        assert e.value.code == code
    r = subprocess.run(["curl", "-s", "-i", "-X", "POST", "http://127.0.0.1:%d/metrics" % t.port],
                       capture_output=True, text=True).stdout
    assert r.startswith("HTTP/1.1 405") and "Allow: GET, HEAD" in r, r
    s = socket.create_connection(("127.0.0.1", t.port))
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n")
    reply = s.recv(100)
    s.close()
    assert not reply or reply.startswith(b"HTTP/1.1 4"), reply
    assert curl(h, "/static.html") == "200"
    h.wait_access_lines(1)
    assert sum(samples(metrics(t.port), DUR + "_count").values()) == 1


def test_bad_listen_address(tracing):
    r = subprocess.run([TOOL, "exporter", "-m", MODULE, "--listen", "nowhere"],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "invalid listen address 'nowhere'" in r.stderr.splitlines()[0]


def test_taken_port(tracing):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    r = subprocess.run([TOOL, "exporter", "-m", MODULE, "--listen", "127.0.0.1:%d" % port],
                       capture_output=True, text=True, timeout=60)
    s.close()
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == ("httpdtrace: cannot listen on 127.0.0.1:%d: Address "
                                         "already in use (give another port with --listen)"
                                         % port), r.stderr


def test_routes_file_gives_http_route(httpdtrace, make_httpd, tmp_path):
    """--routes: the first pattern that matches the uri is the request's
    http_route (an exact path, or a prefix ending in *); a uri that none
    matches is _other; no uri ever becomes a label of its own."""
    routes = tmp_path / "routes.txt"
    routes.write_text("# the test's routes\n/static.html\n\n  /dir/*  \n/never/*\n/\n")
    h = make_httpd("event")
    t = exporter(httpdtrace, "--routes", str(routes))
    for path, code in (("/static.html", "200"), ("/static.html", "200"),
                       ("/static.html?x=1", "200"), ("/dir/", "200"),
                       ("/dir/index.html", "200"), ("/missing", "404"),
                       ("/static.htmlx", "404"), ("/", "200")):
        assert curl(h, path) == code, path
    h.wait_access_lines(8)
    text = metrics(t.port)
    promtool_ok(text)
    by_route = {}
    for labels, v in samples(text, DUR + "_count").items():
        route = re.search(r'http_route="([^"]*)"', labels).group(1)
        by_route[route] = by_route.get(route, 0) + v
    assert by_route == {"/static.html": 3, "/dir/*": 2, "_other": 2, "/": 1}, text


@pytest.mark.parametrize("text,why", [
    ("api/users\n", "routes.txt:1: 'api/users' is not a route"),
    ("/ok\n/a/*/b\n", "routes.txt:2: '/a/*/b' is not a route"),
    ("/" + "x" * 70 + "\n", "routes.txt:1: route longer than 63 bytes"),
    ("# nothing\n\n", "routes.txt: no routes in it"),
    ("".join("/r%d\n" % i for i in range(65)), "routes.txt:65: more than 64 routes"),
])
def test_bad_routes_file(tracing, tmp_path, text, why):
    routes = tmp_path / "routes.txt"
    routes.write_text(text)
    r = subprocess.run([TOOL, "exporter", "-m", MODULE, "--routes", str(routes)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    first = r.stderr.splitlines()[0]
    assert first.startswith("httpdtrace exporter: ") and why in first, r.stderr


def test_openmetrics_and_exemplars(httpdtrace, make_httpd, prometheus):
    """Asked for OpenMetrics (as Prometheus asks first), the exporter answers
    in it, and each duration bucket carries an exemplar: a recent request
    that fell in it (at most one a second per bucket), by the id httpdtrace
    requests shows for that request, and by its W3C trace id when it carried
    a traceparent header. Prometheus stores them (exemplar storage on) with
    the series."""
    h = make_httpd("event")
    handlers.install(h)
    t = exporter(httpdtrace)
    r = httpdtrace("requests", "-m", MODULE, "-j")
    assert curl(h, "/static.html") == "200"
    assert curl(h, "/sleep.lua", "-H", "traceparent: 00-%s-%s-01" % (TRACE_ID, SPAN_ID)) == "200"
    h.wait_access_lines(2)
    req = urllib.request.Request("http://127.0.0.1:%d/metrics" % t.port,
                                 headers={"Accept": "application/openmetrics-text; "
                                                    "version=1.0.0"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.headers["Content-Type"] == ("application/openmetrics-text; "
                                                "version=1.0.0; charset=utf-8")
        text = resp.read().decode()
    assert text.endswith("\n# EOF\n")
    assert "# TYPE httpd_connections_opened counter\n" in text
    r.stop()
    ids = {x["uri"]: x["id"] for x in r.json("request")}
    slow = [l for l in text.splitlines()
            if l.startswith(DUR + "_bucket{") and 'le="0.25"' in l and " # {" in l]
    assert len(slow) == 1, text
    m = re.search(r' # \{trace_id="(\w+)",request_id="(\d+)"\} (\S+)$', slow[0])
    assert (m.group(1), int(m.group(2))) == (TRACE_ID, ids["/sleep.lua"])
    assert 0.2 <= float(m.group(3)) <= 0.25
    fast = [l for l in text.splitlines() if l.startswith(DUR + "_bucket{") and
            ' # {request_id="%d"}' % ids["/static.html"] in l]
    assert len(fast) == 1, text
    # Prometheus parses it and keeps the exemplars
    p = prometheus(["127.0.0.1:%d" % t.port], features=["exemplar-storage"])
    p.wait_value("sum(%s_count)" % DUR, 2)
    deadline = time.monotonic() + 60
    want = {(None, str(ids["/static.html"])), (TRACE_ID, str(ids["/sleep.lua"]))}
    while True:
        got = {(e[1].get("trace_id"), e[1].get("request_id"))
               for e in p.exemplars(DUR + "_bucket")}
        if got >= want:
            break
        assert time.monotonic() < deadline, got
        time.sleep(0.2)


PHASE = "httpd_request_phase_duration_seconds"


def test_phase_histograms(httpdtrace, make_httpd):
    """One histogram per phase, each request counted once in each phase it
    ran; the handler's sleep is the handler's."""
    h = make_httpd("event")
    handlers.install(h)
    t = exporter(httpdtrace, "--phases")
    assert any("tracing 5 probes" in l for l in t.err), t.err
    for path in ("/static.html", "/static.html", "/sleep.lua"):
        assert curl(h, path) == "200"
    h.wait_access_lines(3)
    deadline = time.monotonic() + 30
    while True:     # a request's phases close at its end probe, after the log
        text = metrics(t.port)
        counts = samples(text, PHASE + "_count")
        if counts.get('{phase="log"}') == 3:
            break
        assert time.monotonic() < deadline, text
        time.sleep(0.05)
    promtool_ok(text)
    assert counts == {'{phase="%s"}' % p: 3 for p in
                      ("read", "translate", "access", "type", "handler", "log")}, counts
    sums = samples(text, PHASE + "_sum")
    assert sums['{phase="handler"}'] >= handlers.SLEEP_S
    assert sums['{phase="translate"}'] < handlers.SLEEP_S
    assert "no access, type or handler phase seen" not in "".join(t.err)


def test_phases_off_is_said(httpdtrace, make_httpd):
    """Without DTraceProviderPhases On the access, type and handler phases do
    not exist: they count nothing, and the exporter says why, once."""
    h = make_httpd("event", phases=False)
    t = exporter(httpdtrace, "--phases")
    for _ in range(2):
        assert curl(h, "/static.html") == "200"
    h.wait_access_lines(2)
    deadline = time.monotonic() + 30
    while samples(metrics(t.port), PHASE + "_count").get('{phase="log"}') != 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    counts = samples(metrics(t.port), PHASE + "_count")
    assert counts == {'{phase="read"}': 2, '{phase="translate"}': 2, '{phase="access"}': 0,
                      '{phase="type"}': 0, '{phase="handler"}': 0, '{phase="log"}': 2}
    t.stop()
    warned = [l for l in t.err if "no access, type or handler phase seen" in l]
    assert len(warned) == 1, t.err


def test_phases_only_when_asked(httpdtrace, make_httpd):
    """Without --phases the exporter leaves request-phase alone (its
    semaphore stays 0 in every child, so the module computes no phase) and
    serves no phase histogram; the request metrics are all there."""
    h = make_httpd("event")
    t = exporter(httpdtrace)
    assert any("tracing 4 probes" in l for l in t.err), t.err
    for _ in range(3):
        assert curl(h, "/static.html") == "200"
    h.wait_access_lines(3)
    for pid in h.children():
        sems = semaphores.values(pid, MODULE)
        assert sems["request__phase"] == 0 and sems["request__done"] > 0, sems
    text = metrics(t.port)
    assert samples(text, DUR + "_count") == {
        '{http_request_method="GET",http_response_status_code="200",'
        'network_protocol_version="1.1",server_address="test.local"}': 3}, text
    assert PHASE not in text
    promtool_ok(text)


@pytest.fixture
def tls(tmp_path):
    """A self-signed certificate for 127.0.0.1, its key, and a basic-auth file."""
    cert, key, auth = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "auth"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    auth.write_text("prom:s3cret pass\n")
    return cert, key, auth


def test_tls_and_basic_auth(httpdtrace, make_httpd, prometheus, tls, tmp_path):
    """HTTPS with the given certificate, and basic authentication: a scrape
    without the password gets 401 and a challenge, plain HTTP gets nothing,
    and a real Prometheus configured with the CA and the password scrapes."""
    cert, key, auth = tls
    h = make_httpd("event")
    t = exporter(httpdtrace, "--tls-cert", cert, "--tls-key", key, "--basic-auth", auth)
    url = "https://127.0.0.1:%d/metrics" % t.port
    said(t, "httpdtrace: metrics at https://127.0.0.1:%d/metrics" % t.port)
    r = subprocess.run(["curl", "-s", "-i", "--cacert", str(cert), url], capture_output=True,
                       text=True)
    assert r.stdout.startswith("HTTP/1.1 401") and 'WWW-Authenticate: Basic realm=' in r.stdout
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert",
                        str(cert), "-u", "prom:wrong", url], capture_output=True, text=True)
    assert r.stdout == "401"
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                        "http://127.0.0.1:%d/metrics" % t.port], capture_output=True, text=True)
    assert r.stdout != "200"
    assert curl(h, "/static.html") == "200"
    h.wait_access_lines(1)
    r = subprocess.run(["curl", "-s", "--cacert", str(cert), "-u", "prom:s3cret pass", url],
                       capture_output=True, text=True)
    assert sum(samples(r.stdout, DUR + "_count").values()) == 1, r.stdout
    p = prometheus(["127.0.0.1:%d" % t.port], scrape=(
        "    scheme: https\n    tls_config:\n      ca_file: %s\n"
        "    basic_auth:\n      username: prom\n      password: 's3cret pass'\n" % cert))
    p.wait_value("sum(%s_count)" % DUR, 1)


def test_tls_options_errors(tracing, tls, tmp_path):
    cert, key, auth = tls
    bad = tmp_path / "bad-auth"
    bad.write_text("no colon here\n")
    for args, why in ((["--tls-cert", cert], "--tls-cert and --tls-key go together"),
                      (["--basic-auth", bad], "give one line, user:password"),
                      (["--tls-key", tmp_path / "none.pem", "--tls-cert", cert],
                       "none.pem: No such file or directory")):
        r = subprocess.run([TOOL, "exporter", "-m", MODULE] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and why in r.stderr.splitlines()[0], r.stderr
    # a certificate that is not one: the server cannot start, and says why
    port = free_port()
    r = subprocess.run([TOOL, "exporter", "-m", MODULE, "--listen", "127.0.0.1:%d" % port,
                        "--tls-cert", str(auth), "--tls-key", str(key)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == (
        "httpdtrace: cannot start the HTTPS server on 127.0.0.1:%d: are --tls-cert and "
        "--tls-key a PEM certificate and its key?" % port), r.stderr


def test_non_loopback_without_protection_warns(httpdtrace, make_httpd):
    port = free_port()
    t = httpdtrace("exporter", "-m", MODULE, "--listen", "0.0.0.0:%d" % port)
    assert said(t, "is not a loopback address") == [
        "httpdtrace: warning: 0.0.0.0:%d is not a loopback address, and the metrics are "
        "served in clear text to anyone: give --tls-cert, --tls-key and --basic-auth, or "
        "keep it behind a firewall\n" % port], t.err
