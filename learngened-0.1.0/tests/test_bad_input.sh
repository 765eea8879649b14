#!/bin/sh
# tests/test_bad_input.sh - the bad-input table (tests/bad_input.py) against
# the real daemon on loopback, with small caps so the limits are reached.
set -u
build=${LG_BUILDDIR:-.}
src=${LG_SRCDIR:-.}
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 77; }
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$build/daemon/learngened" --listen "127.0.0.1:$port" --state-dir "$tmp/state" --data-dir "$src/data" \
    --fmnist-dir "" --set workers=1 --set blas_threads=1 --set max_body=64K --set max_upload=8M \
    --set max_batch=64 --set max_depth=32 --set max_header=16K 2>"$tmp/log" &
pid=$!
for _ in $(seq 100); do python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/readyz')" \
    2>/dev/null && break; sleep 0.1; done
if ! python3 "$src/tests/bad_input.py" "http://127.0.0.1:$port" "$src"; then
    echo "--- daemon log"; tail -30 "$tmp/log"; exit 1
fi
# a second daemon on the same state dir is refused (it would requeue the
# first one's running jobs under it)
if "$build/daemon/learngened" --listen 127.0.0.1:0 --state-dir "$tmp/state" --data-dir "" --fmnist-dir "" \
    2>"$tmp/log2"; then
    echo "FAIL: a second daemon started on a state dir in use"; exit 1
fi
grep -q "is in use by another learngened" "$tmp/log2" || { echo "FAIL: no reason: $(cat "$tmp/log2")"; exit 1; }
kill $pid; wait $pid; rc=$?; pid=
[ $rc = 0 ] || { echo "FAIL: the daemon exited $rc on SIGTERM"; exit 1; }
