#!/bin/sh
# test_cli.sh - the learngene CLI end to end: train a small model for a few
# steps, inspect it, evaluate it, and the error paths (exit codes 1 and 2).
set -u
: "${LG_BUILDDIR:=.}"
lg="$LG_BUILDDIR/client/learngene"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "${LG_SRCDIR:-.}/tests/checks.sh"

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

# the learngene pipeline by hand: ancestry -> tleg-train / inherit -> expand -> solve
small="--per-class 30 --batch 16 --dim 32 --depth 3 --heads 2 --patch 7 --log-every 10"
expect 0 "ancestry on classes 0-4" "$lg" ancestry -o "$tmp/anc.st" --steps 20 $small
expect 0 "tleg-train from the ancestry" "$lg" tleg-train --ancestry "$tmp/anc.st" -o "$tmp/tleg.st" --steps 10 \
    --per-class 30 --batch 16 --aux-depth 4
grep -q "auxiliary depth 4" "$tmp/err" && ok "tleg-train reports the auxiliary depth" || bad "tleg-train: $(cat "$tmp/err")"
expect 0 "inherit 2 layers" "$lg" inherit --ancestry "$tmp/anc.st" --layers 2 -o "$tmp/inh.st"
expect 0 "info on a learngene" "$lg" info "$tmp/tleg.st"
grep -q "learngene   tleg: dim 32 .*grows depths 1 to 8" "$tmp/out" && ok "info describes the learngene" || bad "info: $(cat "$tmp/out")"
expect 0 "expand to depth 6 for 5 new classes" "$lg" expand "$tmp/tleg.st" --depth 6 --classes 5 -o "$tmp/d6.st"
expect 0 "the descendant is a plain model" "$lg" info "$tmp/d6.st"
grep -q "depth 6 heads 2" "$tmp/out" && ok "descendant has depth 6" || bad "descendant: $(cat "$tmp/out")"
expect 0 "eval the descendant on classes 5-9" "$lg" eval --labels 5,6,7,8,9 "$tmp/d6.st"
expect 0 "solve under 1M FLOPs" "$lg" solve --flops 1M "$tmp/tleg.st" "$tmp/inh.st"
grep -q "largest" "$tmp/out" && ok "solver explains a capacity pick" || bad "solve: $(cat "$tmp/out")"
expect 0 "solve with evaluations" "$lg" solve --flops 1M --eval "$tmp/tleg.st:2:0.9" "$tmp/tleg.st" "$tmp/inh.st"
grep -q "^depth       2" "$tmp/out" && ok "solver picks the evaluated best" || bad "solve: $(cat "$tmp/out")"
expect 1 "solve below the smallest model" "$lg" solve --flops 1000 "$tmp/tleg.st"
grep -q "smallest reachable" "$tmp/err" && ok "message names the smallest budget" || bad "solve: $(cat "$tmp/err")"
expect 0 "pool-train widths 16,32" "$lg" pool-train --ancestry "$tmp/anc.st" --widths 16,32 --heads 2 \
    -o "$tmp/pool.st" --steps 10 --per-class 30 --batch 16 --calib 20 --finetune 8
grep -q "^d16.1.d32 " "$tmp/out" && ok "pool-train evaluates stitched configurations" || bad "pool-train: $(cat "$tmp/out")"
grep -q "fine-tuning the pool 8 steps" "$tmp/err" && ok "pool-train fine-tunes the pool" || bad "pool-train: $(cat "$tmp/err")"
expect 0 "info on a pool" "$lg" info "$tmp/pool.st"
grep -q "pool        2 instances, 2 stitches" "$tmp/out" && ok "info describes the pool" || bad "info: $(cat "$tmp/out")"
pool_acc=$(sed -n 's/^config      d16.2.d32 .*accuracy //p' "$tmp/out")
expect 0 "stitch d16 -> d32 at block 2" "$lg" stitch "$tmp/pool.st" --from d16 --to d32 --at 2 -o "$tmp/st.st"
expect 0 "eval the stitched model" "$lg" eval --labels 0,1,2,3,4 "$tmp/st.st"
grep -q "accuracy $pool_acc " "$tmp/out" && ok "stitched model scores what the pool recorded ($pool_acc)" ||
    bad "stitched eval $(cat "$tmp/out") vs pool $pool_acc"
expect 0 "solve across a learngene and a pool" "$lg" solve --flops 1M "$tmp/tleg.st" "$tmp/pool.st"
grep -q "pool.st#" "$tmp/out" && ok "solver picks an evaluated pool configuration" || bad "solve: $(cat "$tmp/out")"
expect 2 "stitch an unknown instance" "$lg" stitch "$tmp/pool.st" --from d99 -o "$tmp/x"
expect 2 "stitch at a block the pool lacks" "$lg" stitch "$tmp/pool.st" --from d16 --to d32 --at 7 -o "$tmp/x"
expect 2 "pool-train with heads not dividing a width" "$lg" pool-train --ancestry "$tmp/anc.st" --widths 16,30 \
    --heads 4 -o "$tmp/x" --steps 1
expect 2 "expand to depth 0" "$lg" expand "$tmp/tleg.st" --depth 0 -o "$tmp/x"
expect 2 "expand inherit below k" "$lg" expand "$tmp/inh.st" --depth 1 -o "$tmp/x"
expect 1 "expand a plain model" "$lg" expand "$tmp/d6.st" --depth 3 -o "$tmp/x"
expect 2 "inherit more layers than the ancestry has" "$lg" inherit --ancestry "$tmp/anc.st" --layers 9 -o "$tmp/x"
expect 2 "solve without a budget" "$lg" solve "$tmp/tleg.st"
expect 2 "solve with a bad --eval" "$lg" solve --flops 1M --eval "nope:2:0.5" "$tmp/tleg.st"

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
