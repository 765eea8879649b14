#!/bin/sh
# data/make-data.sh BUILDDIR OUTDIR - rebuilds the bundled default learngene
# and pool from Fashion-MNIST (all ten classes) with the project's recipe:
#   1. an ancestry ViT (fmnist-small widths, depth 6), 3 epochs
#   2. a TLEG learngene distilled from it through a depth-6 auxiliary network
#   3. a Learngene Pool of widths 48 and 96 (depth 6) distilled from it
# Deterministic for a given build and thread count (seeded). About 15 minutes
# on 2 cores; `make data` runs it.
set -eu
build=$1 out=$2
lg="$build/client/learngene"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
common="--threads 2 --log-every 500 --seed 1 --hflip"
labels="--labels 0,1,2,3,4,5,6,7,8,9"
time "$lg" ancestry -o "$tmp/ancestry.safetensors" $labels --preset fmnist-small --depth 6 --epochs 3 \
    --lr 1.5e-3 $common --eval
time "$lg" tleg-train --ancestry "$tmp/ancestry.safetensors" -o "$out/tleg-fmnist.safetensors" --aux-depth 6 \
    --epochs 3 --lr 1.5e-3 $common --eval
time "$lg" pool-train --ancestry "$tmp/ancestry.safetensors" -o "$out/pool-fmnist.safetensors" --widths 48,96 \
    --heads 3 --epochs 2 --lr 1.5e-3 $common
ls -l "$out"/*.safetensors
