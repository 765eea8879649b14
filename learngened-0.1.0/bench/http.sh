#!/bin/sh
# bench/http.sh BUILDDIR SRCDIR - learngened over HTTP on loopback: wrk on
# /v2/health/ready and on model metadata (GET /v2/models/{id}), then
# bench/bench_http (predict via HTTP vs the core alone at batch 1 and 64,
# weights streaming, request to first weight byte). The daemon runs with
# workers = 1 and blas_threads = 1; bench_http's in-process side uses one
# thread too. LG_BENCH_SECONDS (default 5) per case.
set -eu
build=${1:-.}
src=${2:-.}
: "${OPENBLAS_CORETYPE:=Haswell}"
export OPENBLAS_CORETYPE
secs=${LG_BENCH_SECONDS:-5}
command -v wrk >/dev/null || { echo "bench: wrk not installed (apt-get install wrk)" >&2; exit 1; }
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$build/daemon/learngened" --listen "127.0.0.1:$port" --state-dir "$dir/state" --data-dir "$src/data" \
    --fmnist-dir "" --set workers=1 --set blas_threads=1 --set log_level=warn 2>"$dir/log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
url="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -sf "$url/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
gene=$(curl -sf "$url/v1/learngenes" | python3 -c 'import json,sys; print(json.load(sys.stdin)["learngenes"][0]["id"])')
model=$(curl -sf -XPOST "$url/v1/models" -d "{\"from\":\"$gene\",\"depth\":12}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "# learngened $("$build/daemon/learngened" --version | cut -d' ' -f2) on $(nproc) cores, OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE, $(date -u +%FT%TZ)"
for path in /v2/health/ready "/v2/models/$model"; do
    echo "## wrk -t2 -c32 -d${secs}s $path"
    wrk -t2 -c32 -d"${secs}s" "$url$path" | sed -n '/Latency\|Requests\/sec\|requests in\|Non-2xx/p'
done
echo "## bench_http"
"$build/bench/bench_http" "$url" "$gene" "$secs" 1
