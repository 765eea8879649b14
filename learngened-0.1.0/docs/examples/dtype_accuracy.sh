#!/bin/sh
# dtype_accuracy.sh - the "Weight dtypes" table of docs/edge.md: grows or
# stitches each model from the bundled learngene and pool, saves it as F32,
# F16, BF16 and I8 (int8 per-channel), and evaluates every file on the full
# Fashion-MNIST test set (10 000 images) with `learngene eval`.
#   sh docs/examples/dtype_accuracy.sh BUILDDIR [THREADS]  > table.md
set -eu
build=${1:?usage: dtype_accuracy.sh BUILDDIR [THREADS]}
threads=${2:-2}
lg="$build/client/learngene"
data="$(cd "$(dirname "$0")/../.." && pwd)/data"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# name | command that writes the model with --dtype D -o FILE appended
models="tleg depth 2|expand $data/tleg-fmnist.safetensors --depth 2
tleg depth 4|expand $data/tleg-fmnist.safetensors --depth 4
tleg depth 6|expand $data/tleg-fmnist.safetensors --depth 6
tleg depth 8|expand $data/tleg-fmnist.safetensors --depth 8
tleg depth 12|expand $data/tleg-fmnist.safetensors --depth 12
pool d48|stitch $data/pool-fmnist.safetensors --from d48
pool d96|stitch $data/pool-fmnist.safetensors --from d96
pool d48.3.d96|stitch $data/pool-fmnist.safetensors --from d48 --to d96 --at 3"

echo "| model | params | FLOPs | F32 bytes | F16 bytes | BF16 bytes | I8 bytes | F32 acc | F16 acc | BF16 acc | I8 acc |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
echo "$models" | while IFS='|' read -r name cmd; do
    bytes="" acc=""
    for d in F32 F16 BF16 I8; do
        f="$tmp/m.$d.safetensors"
        # shellcheck disable=SC2086
        "$lg" $cmd --dtype $d -o "$f" >/dev/null
        bytes="$bytes $(wc -c <"$f" | tr -d ' ') |"
        acc="$acc $("$lg" eval "$f" --threads "$threads" | sed -n 's/^accuracy \([0-9.]*\) .*/\1/p') |"
    done
    info=$("$lg" info "$tmp/m.F32.safetensors")
    params=$(echo "$info" | sed -n 's/^params *\([0-9]*\).*/\1/p')
    flops=$(echo "$info" | sed -n 's/^flops *\([0-9]*\).*/\1/p')
    echo "| $name | $params | $flops |$bytes$acc"
done
