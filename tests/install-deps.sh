#!/bin/sh
# install-deps.sh: install, on Debian, every package the build and the tests
# need. Runs apt-get update and install only when something is missing, so a
# second `make check` costs nothing here.
set -eu
PKGS="apache2 apache2-dev systemtap-sdt-dev libbpf-dev bpftool clang llvm
bpftrace libncurses-dev libelf-dev zlib1g-dev pkg-config wrk curl
nghttp2-client python3-pytest valgrind tmux binutils make gcc iproute2
libmicrohttpd-dev prometheus prometheus-apache-exporter dpkg-dev debhelper
build-essential lintian chromium firefox-esr libjs-chart.js python3-websocket
fonts-dejavu-core nodejs"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages:$missing; run as root or: sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $missing
