#!/bin/sh
# docs/examples/onnx_latency.sh BUILDDIR [THREADS] - the ONNX Runtime latency
# column of docs/edge.md: each model of the dtype table grown with the CLI,
# exported with `learngene export --onnx`, and timed with tests/onnx/bench.js
# (onnxruntime-node) at batch 1 and 64.
set -eu
build=${1:-.}
threads=${2:-1}
src=$(cd "$(dirname "$0")/../.." && pwd)
lg=$build/client/learngene
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for spec in tleg:2 tleg:4 tleg:6 tleg:8 tleg:12 pool:d48 pool:d96 pool:d48.3.d96; do
    kind=${spec%%:*} arg=${spec#*:}
    if [ "$kind" = tleg ]; then
        "$lg" expand "$src/data/tleg-fmnist.safetensors" --depth "$arg" -o "$tmp/m.safetensors" >/dev/null
    else
        from=${arg%%.*}
        case $arg in
        *.*.*) at=$(echo "$arg" | cut -d. -f2) to=$(echo "$arg" | cut -d. -f3)
            "$lg" stitch "$src/data/pool-fmnist.safetensors" --from "$from" --to "$to" --at "$at" -o "$tmp/m.safetensors" >/dev/null ;;
        *) "$lg" stitch "$src/data/pool-fmnist.safetensors" --from "$from" -o "$tmp/m.safetensors" >/dev/null ;;
        esac
    fi
    "$lg" export "$tmp/m.safetensors" --onnx -o "$tmp/m.onnx" >/dev/null
    b1=$(node "$src/tests/onnx/bench.js" "$tmp/m.onnx" 1 300 "$threads")
    b64=$(node "$src/tests/onnx/bench.js" "$tmp/m.onnx" 64 30 "$threads")
    echo "$spec batch1 $b1"
    echo "$spec batch64 $b64"
done
