#!/bin/sh
# bootstrap.sh - installs what a fresh Debian 12 lacks, then configures and
# builds learngened. Usage: ./bootstrap.sh [configure options...]
# With LG_WITH_REF=1 it also installs what the whole test suite uses
# (PyTorch for the reference cross-check, Chromium for the status page).
set -eu
cd "$(dirname "$0")"

pkgs="autoconf automake libtool make gcc pkg-config libopenblas-dev zlib1g-dev check dataset-fashion-mnist
      libsqlite3-dev libssl-dev libmicrohttpd-dev libjansson-dev libuv1-dev libsystemd-dev
      libcurl4-openssl-dev libinih-dev curl"
# the test suite's extras: PyTorch for the reference cross-check, Chromium
# for the status page test, wrk for the HTTP benchmark
[ "${LG_WITH_REF:-0}" = 1 ] && pkgs="$pkgs python3-torch python3-numpy chromium wrk"

missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "bootstrap: installing:$missing"
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q $missing
fi

[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure "$@"
make -j"$(nproc)"
