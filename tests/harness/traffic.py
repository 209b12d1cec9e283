"""Known traffic for the tools' tests: send() makes one request on a
connection of its own and returns the status; send_mix() sends MIX, a
request of each kind the tools tell apart (methods, statuses, two virtual
hosts, a body, a slow handler, IPv4 and IPv6), and waits for its access-log
lines; VHOSTS is the config that gives an Httpd those two virtual hosts.
"""
import http.client
import os

VHOSTS = """
<VirtualHost *:*>
  ServerName test.local
</VirtualHost>
<VirtualHost *:*>
  ServerName other.local
</VirtualHost>
"""

SLOW_LUA = ("function handle(r)\n"
            "  os.execute('sleep 0.3')\n"
            "  r:puts('slow\\n')\n"
            "  return apache2.OK\n"
            "end\n")

# The client's side of the mix: (method, path with query, Host, body, status).
MIX = [
    ("GET", "/static.html?x=1", "test.local", None, 200),
    ("GET", "/nope", "test.local", None, 404),
    ("GET", "/dir/", "test.local", None, 200),
    ("POST", "/post.lua?token=s3cret", "test.local", b"hello", 200),
    ("GET", "/img/a.png", "other.local", None, 404),
    ("HEAD", "/static.html", "other.local", None, 200),
    ("GET", "/slow.lua", "test.local", None, 200),
]


def send(h, method, path, host="test.local", body=None, v6=False):
    """One request on its own connection; returns the status."""
    c = http.client.HTTPConnection("::1" if v6 else "127.0.0.1", h.port, timeout=10)
    c.request(method, path, body=body, headers={"Host": host})
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


def send_mix(h):
    with open(os.path.join(h.docroot, "slow.lua"), "w") as f:
        f.write(SLOW_LUA)
    os.chmod(os.path.join(h.docroot, "slow.lua"), 0o644)
    for i, (method, path, host, body, status) in enumerate(MIX):
        assert send(h, method, path, host, body, v6=(i % 2 == 1)) == status, path
    return h.wait_access_lines(len(MIX))
