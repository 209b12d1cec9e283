"""Tracing request-phase and internal-redirect with bpftrace, for the tests
of those probes (tests/probes/test_request_phase.py,
test_internal_redirect.py) and of scripts/bpftrace/phases.bt.

PHASE_SCRIPT, REDIRECT_SCRIPT and SCRIPT (both, and request-done) print
each probe hit as lines; Trace reads them back as each request's events in
time order and shape() makes those compact. curl() makes a request and
returns its status; EXTRA adds a location refused in the access phase.
"""
import subprocess

# Every line is one printf (so lines from different CPUs never mix) with the
# kernel's clock first: lines from different CPUs can come out of order, so
# each request's events are sorted by that clock. N lines give the phase
# name of each number (bpftrace's 512-byte stack holds only so many strings
# in one printf), U lines the new uri of the R line with the same clock.
PHASE_SCRIPT = r'''
usdt:@SO@:httpd:request__phase
{
	printf("P\t%llu\t%llu\t%d\t%llu\t%d\t%s\n", nsecs, arg0, arg1, arg4, tid, str(arg3));
	printf("N\t%d\t%s\n", arg1, str(arg2));
}
'''
REDIRECT_SCRIPT = r'''
usdt:@SO@:httpd:internal__redirect
{
	$t = nsecs;
	printf("R\t%llu\t%llu\t%d\t%d\t%s\n", $t, arg0, arg3, arg4, str(arg1));
	printf("U\t%llu\t%llu\t%s\n", $t, arg0, str(arg2));
}
'''
SCRIPT = PHASE_SCRIPT + REDIRECT_SCRIPT + r'''
usdt:@SO@:httpd:request__done
{
	printf("D\t%llu\t%llu\t%d\n", nsecs, arg0, arg1);
}
'''

# A location every request to is refused in the access phase.
EXTRA = """
<Location /denied>
  Require all denied
</Location>
"""

FULL = ["translate", "access", "type", "handler", "log", "end"]
NUMBERS = {"translate": 1, "access": 2, "type": 3, "handler": 4, "log": 5, "end": 6}


class Trace:
    """Events per request id, in time order: ("phase", name, uri, elapsed_us,
    tid), ("redirect", old, new, status, kind), ("done", status)."""

    def __init__(self, text):
        rows, names, new_uri = [], {}, {}
        for line in text.splitlines():
            f = line.split("\t")
            if f[0] == "N" and len(f) == 3:
                names[int(f[1])] = f[2]
            elif f[0] == "U" and len(f) == 4:
                new_uri[(int(f[1]), int(f[2]))] = f[3]
        for line in text.splitlines():
            f = line.split("\t")
            if f[0] == "P" and len(f) == 7:
                rows.append((int(f[1]), int(f[2]),
                             ("phase", names[int(f[3])], f[6], int(f[4]), int(f[5]))))
            elif f[0] == "R" and len(f) == 6:
                t, rid = int(f[1]), int(f[2])
                rows.append((t, rid, ("redirect", f[5], new_uri[(t, rid)], int(f[3]),
                                      int(f[4]))))
            elif f[0] == "D" and len(f) == 4:
                rows.append((int(f[1]), int(f[2]), ("done", int(f[3]))))
        assert all(NUMBERS[name] == n for n, name in names.items()), names
        self.by_id = {}
        for _, rid, ev in sorted(rows):
            self.by_id.setdefault(rid, []).append(ev)

    def only(self):
        assert len(self.by_id) == 1, self.by_id
        return list(self.by_id.values())[0]


def shape(events):
    """A request's events as compact tuples: phase names with their uri,
    redirects with all arguments, done with its status."""
    return [(ev[1], ev[2]) if ev[0] == "phase" else ev for ev in events]


def curl(h, path, *opts):
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}"]
                         + list(opts) + [h.url(path)], capture_output=True, text=True)
    return out.stdout
