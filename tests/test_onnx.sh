#!/bin/sh
# tests/test_onnx.sh - ONNX export checked with a real runtime: ONNX Runtime
# (onnxruntime-node, tests/onnx/run.js) runs the files that the daemon's
# GET /v1/models/{id}/onnx and `learngene export --onnx` write, on 8 real
# Fashion-MNIST test images, with batch 8 and batch 1 (the batch dimension is
# dynamic), and its logits must match the daemon's own predictions
# (POST /v1/models/{id}/predict?logits=1) and `learngene logits` to 1e-4
# (absolute, or relative above 1). Models: a TLEG descendant of depth 4, a
# pool instance, a stitched pool configuration (width 48 → 96), all avg-pool,
# and a token-pool (class token) model trained by the CLI. Also checked: the
# file's metadata_props ("config" equal to the model's, lineage), the input
# "images" [N,C,H,W] and output "logits" [N,K] with N symbolic, the download
# headers, and - when python3-onnx is installed - onnx.checker with
# full_check (strict shape inference).
#
# Needs node and tests/onnx/node_modules (skipped with exit 77 otherwise):
#   ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix tests/onnx --ignore-scripts
set -u
build=${LG_BUILDDIR:-.}
src=${LG_SRCDIR:-.}
py=${PYTHON3:-python3}
d=$build/daemon/learngened
lg=$build/client/learngene
run=$src/tests/onnx/run.js
fmnist=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
command -v node >/dev/null || { echo "SKIP: node is not installed (apt-get install nodejs npm)"; exit 77; }
[ -d "$src/tests/onnx/node_modules/onnxruntime-node" ] || {
    echo "SKIP: ONNX Runtime is not installed; run:"
    echo "  ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix $src/tests/onnx --ignore-scripts"
    exit 77
}
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }
[ -f "$fmnist" ] || { echo "SKIP: no Fashion-MNIST test set at $fmnist (dataset-fashion-mnist)"; exit 77; }

tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { echo "ok: $1"; passed=$((passed + 1)); }
bad() { echo "FAIL: $1"; failed=$((failed + 1)); }

# 8 test images, normalized as the daemon's training data: (x/255 - mean)/std
"$py" - "$fmnist" "$tmp/img.f32" <<'EOF'
import gzip, struct, sys
raw = gzip.open(sys.argv[1]).read()
magic, n, h, w = struct.unpack('>IIII', raw[:16])
assert magic == 2051 and n >= 8, 'not an IDX image file'
vals = [(b / 255.0 - 0.2860) / 0.3530 for b in raw[16:16 + 8 * h * w]]
open(sys.argv[2], 'wb').write(struct.pack('<%df' % len(vals), *vals))
EOF

# compare REF ONNX_LOGITS WHAT: REF is raw float32 or a predict answer (JSON)
compare() {
    if out=$("$py" - "$1" "$2" <<'EOF'
import json, struct, sys
def f32(p):
    b = open(p, 'rb').read()
    return list(struct.unpack('<%df' % (len(b) // 4), b))
ref = sys.argv[1]
if ref.endswith('.json'):
    ref = [x for row in json.load(open(ref))['logits'] for x in row]
else:
    ref = f32(ref)
got = f32(sys.argv[2])
if len(ref) != len(got) or not ref:
    print('%d logits from ONNX Runtime, %d expected' % (len(got), len(ref)))
    sys.exit(1)
err = max(abs(a - b) for a, b in zip(ref, got))
rel = max(abs(a - b) / max(1.0, abs(a)) for a, b in zip(ref, got))
print('max abs error %.3g, max rel error %.3g over %d logits' % (err, rel, len(ref)))
sys.exit(0 if rel <= 1e-4 else 1)
EOF
    ); then ok "$3: $out"; else bad "$3: $out"; fi
}

# field FILE KEY...: a value from a JSON file (nested keys)
field() {
    "$py" -c 'import json,sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]: v = v[int(k)] if isinstance(v, list) else v[k]
print(v if isinstance(v, str) else json.dumps(v, sort_keys=True))' "$@"
}

# check_file FILE.onnx NAME POOL: what run.js read off the file ($tmp/ort.json)
check_file() {
    if msg=$("$py" - "$tmp/ort.json" "$3" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
want_pool = sys.argv[2]
cfg = json.loads(d['metadata']['config'])
assert d['ir_version'] == 8, 'ir_version %r' % d['ir_version']
assert {'domain': '', 'version': 17} in d['opset_import'], d['opset_import']
i, o = d['inputs'], d['outputs']
assert len(i) == 1 and i[0]['name'] == 'images' and i[0]['elem_type'] == 1, i
assert i[0]['dims'] == ['N', cfg['in_chans'], cfg['img'], cfg['img']], i[0]['dims']
assert len(o) == 1 and o[0]['name'] == 'logits' and o[0]['dims'] == ['N', cfg['classes']], o
assert cfg['pool'] == want_pool, 'pool %s' % cfg['pool']
assert d['runtime']['classes'] == cfg['classes'], d['runtime']
for op in ('Conv', 'LayerNormalization', 'Softmax', 'Erf', 'MatMul'):
    assert op in d['ops'], 'no %s node' % op
print('%d nodes, %d initializers, images %s -> logits %s' % (d['nodes'], d['initializers'], i[0]['dims'], o[0]['dims']))
EOF
    ); then ok "$2: the file declares opset 17, dynamic N and \"config\" ($msg)"; else bad "$2: $msg"; fi
    for p in "$py" /usr/bin/python3; do
        if "$p" -c 'import onnx' 2>/dev/null; then
            if msg=$("$p" -c 'import onnx, sys
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
print("onnx %s" % onnx.__version__)' "$1" 2>&1); then ok "$2: onnx.checker full_check ($msg)"; else bad "$2: onnx.checker: $msg"; fi
            return
        fi
    done
    echo "note: python3-onnx is not installed; onnx.checker skipped"
}

# ort FILE.onnx REF NAME: ONNX Runtime with batch 8 and batch 1 against REF
ort() {
    if node "$run" "$1" "$tmp/img.f32" "$tmp/ort8.f32" 8 >"$tmp/ort.json" 2>"$tmp/ort.err"; then
        compare "$2" "$tmp/ort8.f32" "$3, ONNX Runtime batch 8"
    else
        bad "$3: ONNX Runtime failed: $(cat "$tmp/ort.err")"
        return
    fi
    if node "$run" "$1" "$tmp/img.f32" "$tmp/ort1.f32" 1 >/dev/null 2>"$tmp/ort.err"; then
        compare "$2" "$tmp/ort1.f32" "$3, ONNX Runtime batch 1"
    else
        bad "$3: ONNX Runtime with batch 1 failed: $(cat "$tmp/ort.err")"
    fi
}

# --- the core: a token-pool (class token) model from the CLI
if "$lg" train --preset fmnist-ti --depth 2 --steps 2 --batch 8 --per-class 5 -o "$tmp/tok.safetensors" \
    >/dev/null 2>"$tmp/err" && "$lg" info "$tmp/tok.safetensors" >"$tmp/info" && grep -q "pool token" "$tmp/info"; then
    ok "trained a token-pool model with the CLI"
    if "$lg" export "$tmp/tok.safetensors" --onnx -o "$tmp/tok.onnx" >"$tmp/out" 2>"$tmp/err"; then
        ok "learngene export --onnx: $(cat "$tmp/out")"
        "$lg" logits "$tmp/tok.safetensors" "$tmp/img.f32" --out "$tmp/tok.f32" >/dev/null
        ort "$tmp/tok.onnx" "$tmp/tok.f32" "token pool (CLI) vs learngene logits"
        check_file "$tmp/tok.onnx" "token pool (CLI)" token
        [ "$(field "$tmp/ort.json" metadata method)" = scratch ] && ok "the file's lineage (method) is carried over" ||
            bad "lineage: $(cat "$tmp/ort.json")"
    else
        bad "learngene export --onnx: $(cat "$tmp/err")"
    fi
else
    bad "could not train a token-pool model: $(cat "$tmp/err" "$tmp/info" 2>/dev/null)"
fi
# a stitched class-token model: a tiny token-pool pool (widths 16, 32), d16 → d32 at block 2
small="--per-class 10 --batch 16"
if "$lg" ancestry -o "$tmp/anc.st" --steps 5 $small --patch 7 --dim 32 --depth 3 --heads 2 --pool token >/dev/null 2>"$tmp/err" &&
    "$lg" pool-train --ancestry "$tmp/anc.st" --widths 16,32 --heads 2 -o "$tmp/pool.st" --steps 4 $small \
        --calib 20 >/dev/null 2>"$tmp/err" &&
    "$lg" stitch "$tmp/pool.st" --from d16 --to d32 --at 2 -o "$tmp/st.st" >/dev/null 2>"$tmp/err" &&
    "$lg" export "$tmp/st.st" --onnx -o "$tmp/st.onnx" >/dev/null 2>"$tmp/err"; then
    "$lg" logits "$tmp/st.st" "$tmp/img.f32" --out "$tmp/st.f32" >/dev/null
    ort "$tmp/st.onnx" "$tmp/st.f32" "token pool + stitch d16.2.d32 (CLI) vs learngene logits"
    check_file "$tmp/st.onnx" "token pool + stitch (CLI)" token
    field "$tmp/ort.json" metadata config | grep -q '"stitch_at":2,"dim2":32' && ok "the stitched model's config says so" ||
        bad "stitched config: $(field "$tmp/ort.json" metadata config)"
else
    bad "could not make a stitched token-pool model: $(cat "$tmp/err")"
fi

"$lg" export "$tmp/tok.safetensors" -o "$tmp/x.onnx" >/dev/null 2>&1
[ $? = 2 ] && ok "export without a format is a usage error" || bad "export without --onnx should exit 2"
"$lg" export "$tmp/nope.safetensors" --onnx -o "$tmp/x.onnx" >/dev/null 2>&1
[ $? = 1 ] && ok "export of a missing file fails" || bad "export of a missing file should exit 1"

# --- the daemon
port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$d" --listen "127.0.0.1:$port" --state-dir "$tmp/state" --data-dir "$src/data" --fmnist-dir "" \
    --set workers=1 --set blas_threads=1 2>"$tmp/log" &
pid=$!
u=http://127.0.0.1:$port
for _ in $(seq 100); do curl -sf "$u/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "$u/v1/learngenes" >"$tmp/genes.json" && curl -sf "$u/v1/pools" >"$tmp/pools.json" || {
    echo "FAIL: the daemon did not start"
    tail -20 "$tmp/log"
    exit 1
}
gene=$("$py" -c 'import json,sys; print([g["id"] for g in json.load(open(sys.argv[1]))["learngenes"] if g["kind"]=="tleg"][0])' "$tmp/genes.json")
pool=$(field "$tmp/pools.json" pools 0 id)

for req in "{\"from\":\"$gene\",\"depth\":4}|TLEG depth 4" "{\"from\":\"$pool\",\"variant\":\"d96\"}|pool instance d96" \
    "{\"from\":\"$pool\",\"variant\":\"d48.3.d96\"}|pool stitch d48.3.d96"; do
    body=${req%%|*} what=${req#*|}
    code=$(curl -s -o "$tmp/model.json" -w '%{http_code}' -XPOST "$u/v1/models" -d "$body")
    case $code in 200 | 201) ;; *)
        bad "$what: POST /v1/models answered $code: $(cat "$tmp/model.json")"
        continue
        ;;
    esac
    id=$(field "$tmp/model.json" id)
    code=$(curl -s -D "$tmp/hdr" -o "$tmp/m.onnx" -w '%{http_code}' "$u/v1/models/$id/onnx")
    [ "$code" = 200 ] || {
        bad "$what: GET /v1/models/{id}/onnx answered $code: $(cat "$tmp/m.onnx")"
        continue
    }
    sha=$(sha256sum "$tmp/m.onnx" | cut -d' ' -f1)
    tr -d '\r' <"$tmp/hdr" >"$tmp/h"
    if grep -qi "^X-Content-SHA256: $sha$" "$tmp/h" && grep -qi "^Content-Disposition: .*filename=\"$(echo "$id" | cut -c1-12).onnx\"" "$tmp/h"; then
        ok "$what: download with X-Content-SHA256 and filename <id12>.onnx ($(wc -c <"$tmp/m.onnx") bytes)"
    else
        bad "$what: download headers: $(cat "$tmp/h")"
    fi
    curl -s -o "$tmp/pred.json" -XPOST -H 'Content-Type: application/octet-stream' --data-binary @"$tmp/img.f32" \
        "$u/v1/models/$id/predict?logits=1"
    ort "$tmp/m.onnx" "$tmp/pred.json" "$what vs the daemon's predict"
    check_file "$tmp/m.onnx" "$what" avg
    if [ "$(field "$tmp/model.json" config)" = "$("$py" -c 'import json,sys; print(json.dumps(json.loads(json.load(open(sys.argv[1]))["metadata"]["config"]), sort_keys=True))' "$tmp/ort.json")" ] &&
        [ "$(field "$tmp/ort.json" metadata model)" = "$id" ] &&
        [ "$(field "$tmp/ort.json" metadata source)" = "$(field "$tmp/model.json" source)" ] &&
        [ "$(field "$tmp/ort.json" metadata method)" = "$(field "$tmp/model.json" method)" ]; then
        ok "$what: metadata_props carry the model's config, id, source and method"
    else
        bad "$what: metadata $(field "$tmp/ort.json" metadata) vs model $(cat "$tmp/model.json")"
    fi
done
code=$(curl -s -o "$tmp/body" -w '%{http_code}' "$u/v1/models/0123456789abcdef/onnx")
[ "$code" = 404 ] && ok "an unknown model's ONNX is 404" || bad "unknown model: $code $(cat "$tmp/body")"

kill $pid
wait $pid
pid=
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
