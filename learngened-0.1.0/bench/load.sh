#!/bin/sh
# bench/load.sh BUILDDIR SRCDIR - a load test of learngened on loopback:
# wrk (bench/load.lua) mixing health, metadata, predict and downloads for
# LOAD_SECONDS (default 120) with 64 connections, then the answers by
# status class, p50/p99 latency, and the daemon's RSS before and after
# (it must not grow beyond the model cache, cache_mb = 64 here).
set -eu
build=${1:-.}
src=${2:-.}
secs=${LOAD_SECONDS:-120}
command -v wrk >/dev/null || { echo "bench: wrk not installed (apt-get install wrk)" >&2; exit 1; }
: "${OPENBLAS_CORETYPE:=Haswell}"
export OPENBLAS_CORETYPE
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$build/daemon/learngened" --listen "127.0.0.1:$port" --state-dir "$dir/state" --data-dir "$src/data" \
    --fmnist-dir "" --set workers=1 --set blas_threads=1 --set cache_mb=64 --set log_level=warn \
    --set queue_max=256 2>"$dir/log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
url="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -sf "$url/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
gene=$(curl -sf "$url/v1/learngenes" | python3 -c 'import json,sys; print(json.load(sys.stdin)["learngenes"][0]["id"])')
MODEL=$(curl -sf -XPOST "$url/v1/models" -d "{\"from\":\"$gene\",\"depth\":6}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
export MODEL
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
# warm: every kind of request once
wrk -t1 -c1 -d2s -s "$src/bench/load.lua" "$url" >/dev/null
before=$(rss)
echo "# learngened load test: $secs s, wrk -t2 -c64, mix of health / metadata / predict / f16 download;" \
    "$(nproc) cores, OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE, $(date -u +%FT%TZ)"
wrk -t2 -c64 -d"${secs}s" --timeout 10s -s "$src/bench/load.lua" "$url" | tee "$dir/out"
after=$(rss)
echo "RSS before: $before kB, after: $after kB (cache_mb = 64)"
echo "JSON {\"rss_before_kb\":$before,\"rss_after_kb\":$after}"
grep -q '"s5xx":0,' "$dir/out" || { echo "bench: 5xx answers under load" >&2; exit 1; }
