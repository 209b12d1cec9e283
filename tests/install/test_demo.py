"""make demo's script (demo/demo.py), run as `make demo` runs it but on a
free port: its request lines and histogram, and nothing left running."""
import os
import re
import socket
import subprocess

from harness.httpd import REPO, free_port

# demo.py imports the tests' harness: run it as `make demo` does.
HARNESS_PATH = os.path.join(REPO, "tests")


def test_demo(tracing):
    port = free_port()
    out = subprocess.run(["/usr/bin/python3", os.path.join(REPO, "demo", "demo.py")],
                         env=dict(os.environ, DEMO_PORT=str(port), PYTHONPATH=HARNESS_PATH),
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    # the dashboard, up from the start
    assert re.match(r"^== live dashboard: http://127\.0\.0\.1:\d+/ \(httpdtrace exporter; ",
                    lines[1]), out.stdout
    reqs = [l for l in lines if re.match(r"^\d+\.\d{3} +\d+us \d{3} ", l)]
    assert [l.split()[2] for l in reqs] == ["200", "200", "404", "301", "200", "200"] * 2
    assert sum(1 for l in reqs if "[::1]:%d " % port in l) == 2
    buckets = [int(m.group(1)) for m in
               (re.match(r"^ +\d+ \|[@ ]{40} (\d+)$", l) for l in lines) if m]
    assert sum(buckets) == 300
    assert [l for l in lines if l.startswith("  count ")][0].startswith("  count 300, p50 <= ")
    assert "httpdtrace requests -m " in out.stdout and "httpdtrace latency -m " in out.stdout
    # without a terminal, one `top -b` snapshot: a header, then rows by uri
    i = lines.index("== httpdtrace top -b: one snapshot after 4 s of traffic")
    assert lines[i + 1].startswith("httpdtrace top - up ")
    assert re.match(r"^requests \d+: 1xx 0, 2xx \d+, 3xx \d+, 4xx \d+", lines[i + 2])
    assert re.search(r"^ +\d+ .* /static\.html$", out.stdout, re.M)
    # one scrape of the exporter after the traffic twice over
    counts = {}
    for l in lines:
        m = re.match(r'^http_server_request_duration_seconds_count\{.*'
                     r'http_response_status_code="(\d+)".*\} (\d+)$', l)
        if m:
            counts[m.group(1)] = counts.get(m.group(1), 0) + int(m.group(2))
    assert counts == {"200": 8, "404": 2, "301": 2}, out.stdout
    assert "httpd_connections_opened_total 12" in lines
    assert lines[-1] == "== done: 324 requests traced; stopping Apache"
    conf = os.path.join(REPO, "build", "demo", "httpd.conf")
    assert not [pid for pid in os.listdir("/proc") if pid.isdigit() and running(pid, conf)]


def running(pid, word):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            return word.encode() in f.read()
    except OSError:
        return False


def test_demo_port_taken(tracing):
    """A taken port is a one-line error, and nothing is started."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = subprocess.run(["/usr/bin/python3", os.path.join(REPO, "demo", "demo.py")],
                             env=dict(os.environ, DEMO_PORT=str(port), PYTHONPATH=HARNESS_PATH),
                             stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=60)
    assert out.returncode == 1
    assert out.stdout.startswith("make demo: port %d on 127.0.0.1 is taken" % port)
    assert out.stdout.count("\n") == 1 and out.stderr == ""
    # the port it suggests is one that is free on both addresses now
    m = re.search(r" or run: DEMO_PORT=(\d+) make demo$", out.stdout.strip())
    assert m and int(m.group(1)) != port, out.stdout
    for host, family in (("127.0.0.1", socket.AF_INET), ("::1", socket.AF_INET6)):
        with socket.socket(family) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, int(m.group(1))))


def test_demo_port_in_time_wait_is_free():
    """The demo's own connections of a minute ago leave the port in
    TIME-WAIT; Apache (SO_REUSEADDR) can listen there, so the check must not
    call it taken. The server side closing first puts it in TIME-WAIT."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("demo", os.path.join(REPO, "demo", "demo.py"))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)     # as Apache's listener
    lst.bind(("127.0.0.1", 0))
    lst.listen()
    port = lst.getsockname()[1]
    cl = socket.create_connection(("127.0.0.1", port))
    conn, _ = lst.accept()
    conn.close()                # the server closes first: its side waits
    cl.recv(1)
    cl.close()
    lst.close()
    assert re.search(r"TIME-WAIT|TIME_WAIT", subprocess.run(
        ["ss", "-tan", "sport = :%d" % port], capture_output=True, text=True).stdout)
    assert demo.bind_error("127.0.0.1", port) is None
