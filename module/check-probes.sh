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
# The module tests groups of semaphores with one load on x86-64 (see
# DTP_SEM_GROUP in dtp_private.h): they must lie 2 bytes apart in the
# order the provider declares the probes.
if readelf -h "$so" | grep -q 'Machine:.*X86-64'; then
    prev=""
    for p in $probes; do
        sem=$(printf '%s\n' "$notes" | grep -A2 "Name: $p\$" |
              sed -n 's/.*Semaphore: \(0x[0-9a-f]*\).*/\1/p' | head -1)
        if [ -n "$prev" ] && [ $((sem)) -ne $((prev + 2)) ]; then
            echo "check-probes: httpd:$p's semaphore is at $sem, not right after the previous probe's ($prev): the grouped is-enabled tests need the declaration order" >&2
            exit 1
        fi
        prev=$sem
    done
fi
# On x86-64 every site must be the 5-byte nop the kernel's uprobe optimizer
# accepts (module/sdt_nop5.h), inside one page; unless built -DDTP_SDT_NOP1.
sites=""
if readelf -h "$so" | grep -q 'Machine:.*X86-64' && [ -z "${DTP_SDT_NOP1:-}" ]; then
    for loc in $(printf '%s\n' "$notes" | sed -n 's/.*Location: \(0x[0-9a-f]*\),.*/\1/p'); do
        bytes=$(objdump -d --start-address=$((loc)) --stop-address=$((loc + 5)) "$so" |
                sed -n 's/^ *[0-9a-f]*:\t\([0-9a-f ]*\)\t.*/\1/p' | head -1 | tr -d ' ')
        if [ "$bytes" != 0f1f440000 ] || [ $((loc % 4096)) -gt 4091 ]; then
            echo "check-probes: probe site $loc in $so is '$bytes', not the optimizable nop5 0f1f440000 within a page" >&2
            exit 1
        fi
        sites=$((${sites:-0} + 1))
    done
    sites=", $sites sites are 5-byte nops"
fi
echo "check-probes: $(echo $probes | wc -w) probes with semaphores in $so$sites"
