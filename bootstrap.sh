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
[ "${LG_WITH_REF:-0}" = 1 ] && pkgs="$pkgs python3-torch python3-numpy chromium wrk python3-onnx clang libclang-rt-14-dev"

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

# ONNX Runtime (npm's onnxruntime-node, pinned by tests/onnx/package-lock.json)
# for the ONNX export test; its CPU runtime ships inside the package, so the
# install script (which would fetch CUDA parts) is skipped.
if [ "${LG_WITH_REF:-0}" = 1 ] && [ ! -d tests/onnx/node_modules/onnxruntime-node ] && command -v npm >/dev/null; then
    ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix tests/onnx --ignore-scripts --no-audit --no-fund ||
        echo "bootstrap: npm could not install onnxruntime-node; the ONNX test will be skipped"
fi

[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure "$@"
make -j"$(nproc)"
