"""The probes under mod_ssl, with a throwaway certificate the test makes.

The client runs TLS over memory BIOs and moves every record to and from the
socket itself, so it knows exactly how many bytes crossed the wire: conn-done
counts wire bytes (TLS records included), and must say exactly that. Cases:
HTTP/1.1 over TLS (two requests on one connection), HTTP/2 over TLS (ALPN
h2, nghttp), a handshake the client breaks off, and a client that speaks
plain HTTP, or sends garbage, instead of a ClientHello. Every conn-start has
its conn-done, every access-log line its request-done.
"""
import os
import shutil
import socket
import ssl
import subprocess
import time

import pytest

from harness.httpd import MODULE, free_port

HTTP1 = ("GET /static.html HTTP/1.1\r\nHost: test.local\r\n\r\n"
         "GET /nope HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n\r\n")


def make_cert(d):
    key, crt = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=test.local", "-keyout", key, "-out", crt],
                   check=True, capture_output=True)
    os.chmod(key, 0o644)
    return crt, key


def tls_conf(port, crt, key):
    return """
LoadModule socache_shmcb_module /usr/lib/apache2/modules/mod_socache_shmcb.so
LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so
SSLSessionCache none
Listen 127.0.0.1:%d
<VirtualHost 127.0.0.1:%d>
  ServerName test.local
  SSLEngine on
  SSLCertificateFile %s
  SSLCertificateKeyFile %s
  SSLProtocol TLSv1.3
  Protocols h2 http/1.1
</VirtualHost>
""" % (port, port, crt, key)


class WireTLS:
    """A TLS client that counts the bytes it writes to and reads from the
    socket (records, not plaintext)."""

    def __init__(self, port, alpn=None, max_version=None):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if alpn:
            ctx.set_alpn_protocols(alpn)
        if max_version:
            ctx.maximum_version = max_version
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.port = self.sock.getsockname()[1]
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname="test.local")
        self.sent = self.received = 0
        self.eof = False

    def _flush(self):
        data = self.outgoing.read()
        if data:
            self.sock.sendall(data)
            self.sent += len(data)

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            self.eof = True
            self.incoming.write_eof()
            return
        self.received += len(data)
        self.incoming.write(data)

    def handshake(self):
        while True:
            try:
                self.tls.do_handshake()
                self._flush()
                return
            except ssl.SSLWantReadError:
                self._flush()
                self._fill()

    def send(self, text):
        self.tls.write(text.encode())
        self._flush()

    def read_to_eof(self):
        """Every plaintext byte until the server closes; records counted."""
        out = b""
        while not self.eof:
            try:
                data = self.tls.read(65536)
            except ssl.SSLWantReadError:
                self._fill()
                continue
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                data = b""
            if not data:                # close_notify: the rest is still wire
                while not self.eof:
                    self._fill()
            out += data
        self.sock.close()
        return out


def start_tls(make_httpd, tmp_path, mpm):
    crt, key = make_cert(str(tmp_path))
    os.chmod(str(tmp_path), 0o755)
    port = free_port()
    h = make_httpd(mpm, extra=tls_conf(port, crt, key))
    h.tls_port = port
    return h


@pytest.fixture(params=["event", "prefork"])
def tls_server(request, make_httpd, tmp_path):
    return start_tls(make_httpd, tmp_path, request.param)


def traced(httpdtrace):
    return (httpdtrace("conns", "-m", MODULE, "-j"),
            httpdtrace("requests", "-m", MODULE, "-j"))


def finish(h, conns, reqs, nconns):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(conns.json("conn")) < nconns:
        time.sleep(0.05)
    for t in (conns, reqs):
        t.stop()
        assert t.rc == 0, t.describe()
    return ({c["peer_port"]: c for c in conns.json("conn")},
            reqs.json())


def test_http1_over_tls_counts_wire_bytes(tls_server, httpdtrace):
    h = tls_server
    conns, reqs = traced(httpdtrace)
    c = WireTLS(h.tls_port)
    c.handshake()
    c.send(HTTP1)
    body = c.read_to_eof()
    assert body.count(b"HTTP/1.1 200") == 1 and body.count(b"HTTP/1.1 404") == 1
    h.wait_access_lines(2)
    by_port, done = finish(h, conns, reqs, 1)
    o = by_port[c.port]
    assert (o["requests"], o["bytes_in"], o["bytes_out"]) == (2, c.sent, c.received)
    assert o["reason"] == "server"          # Connection: close on the second
    mine = sorted((r["uri"], r["status"], r["protocol"]) for r in done
                  if r["peer_port"] == c.port)
    assert mine == [("/nope", 404, "HTTP/1.1"), ("/static.html", 200, "HTTP/1.1")]
    assert {r["conn_id"] for r in done if r["peer_port"] == c.port} == {o["conn_id"]}


@pytest.mark.parametrize("mpm", ["event", "worker"])     # mod_http2 refuses prefork
def test_http2_over_tls_alpn(make_httpd, tmp_path, httpdtrace, mpm):
    h = start_tls(make_httpd, tmp_path, mpm)
    if not shutil.which("nghttp"):
        pytest.fail("nghttp is not installed (make check-deps)")
    conns, reqs = traced(httpdtrace)
    url = "https://127.0.0.1:%d" % h.tls_port
    r = subprocess.run(["nghttp", "-n", "-v", url + "/static.html", url + "/nope", url + "/"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "The negotiated protocol: h2" in r.stdout      # ALPN chose HTTP/2
    h.wait_access_lines(3)
    by_port, done = finish(h, conns, reqs, 1)
    assert len(by_port) == 1
    (o,) = by_port.values()
    assert o["requests"] == 3 and o["bytes_in"] > 0 and o["bytes_out"] > 0
    assert sorted((r["uri"], r["status"], r["protocol"]) for r in done) == [
        ("/", 200, "HTTP/2.0"), ("/nope", 404, "HTTP/2.0"), ("/static.html", 200, "HTTP/2.0")]
    assert {r["conn_id"] for r in done} == {o["conn_id"]}


def test_failed_handshake(tls_server, httpdtrace):
    """The server takes TLS 1.3 only; a TLS 1.2 client fails the handshake:
    the connection still ends with a conn-done, no request, no log line."""
    h = tls_server
    conns, reqs = traced(httpdtrace)
    c = WireTLS(h.tls_port, max_version=ssl.TLSVersion.TLSv1_2)
    with pytest.raises(ssl.SSLError):
        c.handshake()
    while not c.eof:
        c._fill()
    c.sock.close()
    by_port, done = finish(h, conns, reqs, 1)
    o = by_port[c.port]
    assert (o["requests"], o["bytes_in"], o["bytes_out"]) == (0, c.sent, c.received)
    assert o["reason"] == "aborted", o         # mod_ssl gives up on the connection
    assert done == [] and h.access_entries() == []


@pytest.mark.parametrize("garbage", [
    b"GET /static.html HTTP/1.1\r\nHost: test.local\r\n\r\n",   # plain HTTP
    bytes(range(256)) * 4,                                          # not TLS at all
])
def test_not_a_client_hello(tls_server, httpdtrace, garbage):
    h = tls_server
    conns, reqs = traced(httpdtrace)
    s = socket.create_connection(("127.0.0.1", h.tls_port), timeout=10)
    port = s.getsockname()[1]
    s.sendall(garbage)
    got = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except ConnectionResetError:
        pass
    s.close()
    by_port, done = finish(h, conns, reqs, 1)     # conn-done comes after the log
    log = h.access_entries()
    o = by_port[port]
    assert o["requests"] == len(log) == len(done)
    assert o["bytes_out"] == len(got)
    assert 0 < o["bytes_in"] <= len(garbage)
    if garbage.startswith(b"GET "):
        # mod_ssl answers plain HTTP on a TLS port with a 400, logs it, and
        # closes the connection after it
        assert [r["status"] for r in done] == [400] and got.startswith(b"HTTP/1.1 400")
        assert o["reason"] == "server"
    else:
        assert o["reason"] == "aborted"
