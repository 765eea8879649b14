#!/bin/sh
# bench/run.sh BUILDDIR - liblearngene next to PyTorch (tests/ref/vit_ref.py
# bench) in one run, on the same shapes, thread count and batch, and next to
# OpenBLAS sgemm at the model's matmul shapes. PyTorch runs in its default
# setting and in its best one (OMP_WAIT_POLICY=PASSIVE OPENBLAS_THREAD_TIMEOUT=4)
# and the faster of the two is the peer. Prints a markdown table at the end,
# with the machine's float32 FMA peak (bench_vit measures it) next to the
# GFLOP/s a run at the target ratio would need.
#   LG_BENCH_THREADS (default 2), LG_BENCH_ITERS (default 10), LG_BENCH_ROUNDS
#   (default 3: every case that many times, the fastest round of each program
#   counts, and sgemm and the FMA peak at their highest),
#   LG_BENCH_CASES ("preset:depth:batch:mode ..." to override the list),
#   OPENBLAS_CORETYPE (default Haswell, as the project's machines set it).
set -eu
build=${1:-.}
src=$(cd "$(dirname "$0")/.." && pwd)
: "${OPENBLAS_CORETYPE:=Haswell}"
export OPENBLAS_CORETYPE
threads=${LG_BENCH_THREADS:-2}
iters=${LG_BENCH_ITERS:-10}
rounds=${LG_BENCH_ROUNDS:-3}
cases=${LG_BENCH_CASES:-"fmnist-ti:3:64:both fmnist-ti:6:64:both fmnist-ti:12:64:both deit-ti:12:8:both fmnist-ti:12:1:infer deit-ti:12:1:infer"}
py=${PYTHON3:-/usr/bin/python3}
have_torch=0
"$py" -c "import torch" 2>/dev/null && have_torch=1
out=$(mktemp)
one=$(mktemp)
trap 'rm -f "$out" "$one"' EXIT

# run WHO CASE COMMAND...: shows the command's output and keeps its JSON line.
run() {
    who=$1 case=$2
    shift 2
    "$@" >"$one" 2>&1 || { cat "$one"; echo "bench: $who failed on $case" >&2; exit 1; }
    cat "$one"
    sed -n "s/^JSON /$who $case /p" "$one" >>"$out"
}

echo "# OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE threads=$threads iters=$iters rounds=$rounds $(date -u +%FT%TZ) $(uname -m)"
round=0
while [ "$round" -lt "$rounds" ]; do
round=$((round + 1))
echo "# round $round of $rounds"
for c in $cases; do
    IFS=: read -r preset depth batch mode <<EOC
$c
EOC
    echo "## $preset depth $depth batch $batch ($mode)"
    run ours "$c" "$build/bench/bench_vit" --preset "$preset" --depth "$depth" --batch "$batch" \
        --threads "$threads" --iters "$iters" --mode "$mode"
    [ "$have_torch" = 1 ] || continue
    ref="$py $src/tests/ref/vit_ref.py bench --config $preset --depth $depth --batch $batch --threads $threads"
    ref="$ref --iters $iters --mode $mode --json"
    run torch-default "$c" $ref
    run torch-passive "$c" env OMP_WAIT_POLICY=PASSIVE OPENBLAS_THREAD_TIMEOUT=4 $ref
done
done

[ "$have_torch" = 1 ] || { echo "(python3-torch not installed: no PyTorch column)"; exit 0; }
"$py" - "$out" <<'PY'
import json, sys
rows = {}   # case -> who -> [JSON of each round]
for line in open(sys.argv[1]):
    who, case, js = line.split(" ", 2)
    rows.setdefault(case, {}).setdefault(who, []).append(json.loads(js))
def med(r, k):
    if k not in r or not r[k]: return None
    return r[k]["median"] if isinstance(r[k], dict) else r[k]
def fastest(runs, k):
    # the best round: neighbours on a shared machine only ever slow a run down
    ts = [med(r, k) for r in runs]
    ts = [t for t in ts if t]
    return min(ts) if ts else None
print()
print("| shape | batch | mode | ours img/s | PyTorch img/s (best setting) | ratio | target | ours GFLOP/s | sgemm GFLOP/s at these shapes | FMA peak GFLOP/s | target needs GFLOP/s |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for case, r in rows.items():
    preset, depth, batch, mode = case.split(":")
    o = dict(r["ours"][0]); b = int(batch)
    o["sgemm_gflops"] = max(x["sgemm_gflops"] for x in r["ours"])
    o["fma_peak_gflops"] = max(x.get("fma_peak_gflops", 0) for x in r["ours"])
    for m, ok, tk, fk in (("infer", "infer_s", "infer", "fwd_flops"), ("train", "train_s", "train", "train_flops")):
        if mode not in ("both", m): continue
        t = min(x for x in (fastest(r[k], tk) for k in r if k.startswith("torch")) if x)
        ours = fastest(r["ours"], ok)
        if m == "infer": fk = "fwd_flops_run" if "fwd_flops_run" in o else fk  # FLOPs liblearngene runs
        gf = o[fk] * b / ours / 1e9
        label = "latency" if b == 1 else m
        goal = 3 if b == 1 else 2
        need = goal * o[fk] * b / t / 1e9   # GFLOP/s (of the FLOPs we run) at goal x PyTorch's img/s
        peak = o.get("fma_peak_gflops", 0)
        flag = "met" if t / ours >= goal else ("above peak" if peak and need > peak else "no")
        print(f"| {preset} d{depth} | {b} | {label} | {b/ours:.1f} | {b/t:.1f} | **{t/ours:.2f}x** | {goal}x: {flag} | {gf:.1f} | {o['sgemm_gflops']:.1f} | {peak:.1f} | {need:.1f} |")
core = next(iter(rows.values()))["ours"][0]["core"]
print(f"\nOpenBLAS core type: {core}")
PY
