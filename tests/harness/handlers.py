"""Request handlers with known behaviour, for the tests that attribute work
to requests (phases, pools, resources). install(h) writes them into an
Httpd's document root before requests are sent:

  /sleep.lua   waits SLEEP_S seconds off-CPU (os.execute("sleep"): the
               handling thread blocks in wait4 while a child sleeps)
  /alloc.lua   copies ALLOC_CHUNKS strings of ALLOC_BYTES into r.notes: each
               copy is one apr_palloc(r->pool, ALLOC_BYTES + 1) (apr_pstrdup)
  /big.bin     a static file of BIG_BYTES
"""
import os

from harness.httpd import settle_mtimes

SLEEP_S = 0.2
ALLOC_BYTES = 1 << 20
ALLOC_CHUNKS = 4
BIG_BYTES = 4 << 20

SLEEP_LUA = """function handle(r)
  r.content_type = 'text/plain'
  os.execute('sleep %s')
  r:puts('slept\\n')
  return apache2.OK
end
""" % SLEEP_S

ALLOC_LUA = """function handle(r)
  r.content_type = 'text/plain'
  local s = string.rep('x', %d)
  for i = 1, %d do
    r.notes['chunk' .. i] = s
  end
  r:puts('allocated\\n')
  return apache2.OK
end
""" % (ALLOC_BYTES, ALLOC_CHUNKS)


def install(h):
    files = {"sleep.lua": SLEEP_LUA, "alloc.lua": ALLOC_LUA}
    for name, text in files.items():
        with open(os.path.join(h.docroot, name), "w") as f:
            f.write(text)
    with open(os.path.join(h.docroot, "big.bin"), "wb") as f:
        f.write(b"b" * BIG_BYTES)
    for name in list(files) + ["big.bin"]:
        os.chmod(os.path.join(h.docroot, name), 0o644)
    settle_mtimes(h.docroot)
