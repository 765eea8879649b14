#!/bin/sh
# test_ref.sh - liblearngene's logits against the independent PyTorch
# reference (tests/ref/vit_ref.py) for randomized models of both pools, in
# F32 and BF16 files, at 28² (fmnist-ti) and 224² (deit-ti) shapes.
# Skipped (exit 77) when python3 with torch is not installed.
set -eu
: "${LG_BUILDDIR:=.}" "${LG_SRCDIR:=.}"
py=${PYTHON3:-/usr/bin/python3}
[ -x "$py" ] || py=/usr/bin/python3
if ! "$py" -c "import torch, numpy" 2>/dev/null; then
    echo "SKIP: python3-torch is not installed (LG_WITH_REF=1 ./bootstrap.sh installs it)"
    exit 77
fi
ref="$LG_SRCDIR/tests/ref/vit_ref.py"
lg="$LG_BUILDDIR/client/learngene"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() { # config pool depth dtype
    name="$1-$2-d$3-$4"
    "$py" "$ref" init --config "$1" --pool "$2" --depth "$3" --dtype "$4" --randomize-all --seed 7 \
        --out "$tmp/$name.safetensors" >/dev/null
    "$py" "$ref" images --config "$1" --n 3 --seed 8 --out "$tmp/$name.img" >/dev/null
    "$py" "$ref" logits --weights "$tmp/$name.safetensors" --images "$tmp/$name.img" --out "$tmp/$name.ref" >/dev/null
    "$lg" logits "$tmp/$name.safetensors" "$tmp/$name.img" --out "$tmp/$name.lg" >/dev/null
    "$py" - "$tmp/$name.lg" "$tmp/$name.ref" "$name" <<'PY'
import sys
import numpy as np
a = np.fromfile(sys.argv[1], dtype="<f4").astype(np.float64)
b = np.fromfile(sys.argv[2], dtype="<f4").astype(np.float64)
assert a.shape == b.shape and a.size > 0, f"{sys.argv[3]}: {a.shape} vs {b.shape} logits"
rel = np.max(np.abs(a - b)) / np.max(np.abs(b))
print(f"{sys.argv[3]}: {a.size} logits, max |ours - torch| / max |torch| = {rel:.2e}")
sys.exit(0 if rel <= 1e-4 else 1)
PY
}

fail=0
for pool in token avg; do
    check fmnist-ti "$pool" 3 F32 || fail=1
    check deit-ti "$pool" 2 F32 || fail=1
done
check fmnist-ti avg 2 BF16 || fail=1
check fmnist-ti token 2 F16 || fail=1
exit $fail
