#!/bin/sh
# check-probes.sh SO PROVIDER.d: fail unless SO carries a USDT note with a
# semaphore for every probe PROVIDER.d declares. It catches probes compiled
# to nothing (httpd's ap_config.h and _DTRACE_VERSION) and semaphores that
# were not linked in. Linux only: elsewhere `dtrace -l` checks a live server.
set -eu
so=$1 d=$2
probes=$(sed -n 's/^[[:space:]]*probe[[:space:]]*\([a-z_]*\)(.*/\1/p' "$d")
[ -n "$probes" ] || { echo "check-probes: no probes declared in $d" >&2; exit 1; }
notes=$(readelf -n "$so")
for p in $probes; do
    if ! printf '%s\n' "$notes" | grep -A3 "Provider: httpd" | grep -A2 "Name: $p\$" |
            grep -q 'Semaphore: 0x0*[1-9a-f]'; then
        echo "check-probes: $so has no httpd:$p note with a semaphore" >&2
        exit 1
    fi
done
echo "check-probes: $(echo $probes | wc -w) probes with semaphores in $so"
