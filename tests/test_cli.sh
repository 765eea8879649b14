#!/bin/sh
# test_cli.sh - the learngene CLI end to end: train a small model for a few
# steps, inspect it, evaluate it, and the error paths (exit codes 1 and 2).
set -u
: "${LG_BUILDDIR:=.}"
lg="$LG_BUILDDIR/client/learngene"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
expect() { # expected-exit-code description command...
    want=$1 what=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" = "$want" ]; then ok "$what (exit $got)"; else bad "$what: exit $got, want $want"; cat "$tmp/err"; fi
}

expect 0 "train a tiny model" "$lg" train -o "$tmp/m.safetensors" --per-class 20 --steps 30 --batch 16 \
    --dim 32 --depth 2 --heads 2 --patch 7 --log-every 10 --labels 5,6,7,8,9 --dtype BF16
grep -q "step     30/30" "$tmp/err" && ok "progress line at the last step" || bad "no progress line: $(cat "$tmp/err")"
grep -q "img/s.*ETA" "$tmp/err" && ok "progress shows img/s and ETA" || bad "progress lacks img/s or ETA"
expect 0 "info" "$lg" info --tensors "$tmp/m.safetensors"
grep -q "depth 2 heads 2" "$tmp/out" && ok "info shows the shape" || bad "info: $(cat "$tmp/out")"
grep -q "classes 5" "$tmp/out" && ok "--labels 5,6,7,8,9 made a 5-class model" || bad "classes: $(cat "$tmp/out")"
grep -q "blocks.1.mlp.fc2.weight *BF16" "$tmp/out" && ok "tensors listed in BF16" || bad "tensor list"
expect 0 "eval on classes 5-9" "$lg" eval --labels 5,6,7,8,9 "$tmp/m.safetensors"
grep -q "accuracy 0\.[0-9]* (5000 images)" "$tmp/out" && ok "eval reports accuracy" || bad "eval: $(cat "$tmp/out")"

expect 2 "no command" "$lg"
expect 2 "unknown command" "$lg" frobnicate
expect 2 "train without -o" "$lg" train --steps 1
expect 2 "bad number" "$lg" train -o "$tmp/x" --steps 12x
grep -q -- "--steps must be an integer" "$tmp/err" && ok "message names --steps" || bad "message: $(cat "$tmp/err")"
expect 2 "invalid shape" "$lg" train -o "$tmp/x" --dim 30 --heads 4 --steps 1 --per-class 1
grep -q "heads" "$tmp/err" && ok "message names heads" || bad "message: $(cat "$tmp/err")"
expect 1 "eval a missing file" "$lg" eval "$tmp/none.safetensors"
printf 'not a safetensors file' >"$tmp/junk"
expect 1 "info on junk" "$lg" info "$tmp/junk"
expect 1 "missing data dir" "$lg" train -o "$tmp/x" --data "$tmp/nowhere" --steps 1

[ "$fails" = 0 ] && echo "all CLI checks passed" || echo "$fails CLI checks failed"
exit $((fails != 0))
