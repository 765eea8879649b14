#!/bin/sh
# test_remote.sh - the learngene client against the real daemon: every
# daemon subcommand (ls, get, predict, finetune, jobs, push) with tables and
# --json, a download killed midway and resumed to the daemon's sha256, the
# URL/token resolution (flags, environment, config file) against a stub
# server, the documented exit codes; and learngene(1) against the CLI (every
# long option each subcommand's --help prints is in the page, and man
# renders it without warnings). Skips (77) without curl or python3.
set -u
: "${LG_BUILDDIR:=.}" "${LG_SRCDIR:=.}"
lg="$LG_BUILDDIR/client/learngene"
daemon="$LG_BUILDDIR/daemon/learngened"
page="$LG_SRCDIR/man/learngene.1"
fmnist=/usr/share/datasets/fashion-mnist
for tool in curl python3 sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool is missing"; exit 77; }
done
[ -f "$fmnist/t10k-images-idx3-ubyte.gz" ] || { echo "SKIP: no Fashion-MNIST in $fmnist"; exit 77; }

tmp=$(mktemp -d)
dpid= spid= gpid=
stop() { # pid: TERM, then KILL after 5 s
    [ -n "$1" ] || return 0
    kill "$1" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25; do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.2
    done
    kill -9 "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}
cleanup() {
    [ -n "$gpid" ] && kill -9 "$gpid" 2>/dev/null
    stop "$spid"
    stop "$dpid"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
# loopback only, and never the user's own settings
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY LEARNGENE_URL LEARNGENE_TOKEN \
    LEARNGENE_RATE_LIMIT
export XDG_CONFIG_HOME="$tmp/config"
export NO_PROXY='*'

. "${LG_SRCDIR:-.}/tests/checks.sh"
has() { # file pattern description
    if grep -q -- "$2" "$1"; then ok "$3"; else
        bad "$3: no '$2' in:"
        sed 's/^/    /' "$1" | head -20
    fi
}
pyjson() { # file python-expression-over-d description
    if python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1" 2>"$tmp/pyerr"
    then ok "$3"; else
        bad "$3: ($2) is false for:"
        head -c 1500 "$1" | sed 's/^/    /'
        cat "$tmp/pyerr"
    fi
}
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
sha_of() { sha256sum "$1" | cut -d' ' -f1; }
header_sha() { # URL path: the daemon's X-Content-SHA256
    curl -sfI "$url$1" | tr -d '\r' | sed -n 's/^[Xx]-[Cc]ontent-[Ss][Hh][Aa]256: *//p'
}

# ------------------------------------------------- learngene(1) vs the CLI
sed 's/\\-/-/g; s/\\f[BIRP]//g' "$page" >"$tmp/page"
subs=$("$lg" --help | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p')
[ -n "$subs" ] && ok "learngene --help lists $(echo $subs | wc -w) subcommands" || bad "no subcommands in --help"
missing=
for sub in $subs; do
    grep -q "^\.SS \"learngene $sub[ \"]" "$tmp/page" || missing="$missing $sub"
    "$lg" "$sub" --help >"$tmp/help" 2>&1 || bad "learngene $sub --help exits nonzero"
    for opt in $(grep -o -- '--[a-z][a-z0-9-]*' "$tmp/help" | sort -u); do
        grep -q -- "$opt\([^a-z0-9-]\|\$\)" "$tmp/page" || missing="$missing $sub:$opt"
    done
done
[ -z "$missing" ] && ok "every subcommand and each option of its --help is in learngene(1)" ||
    bad "learngene(1) lacks:$missing"
for section in "EXIT STATUS" ENVIRONMENT FILES; do
    grep -q "^\.SH \"*$section" "$page" && ok "learngene(1) has $section" || bad "learngene(1) lacks $section"
done
if command -v man >/dev/null 2>&1; then
    LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" >/dev/null 2>"$tmp/manwarn"
    [ ! -s "$tmp/manwarn" ] && ok "man renders learngene(1) without warnings" ||
        bad "man warnings: $(cat "$tmp/manwarn")"
fi
if command -v groff >/dev/null 2>&1; then
    groff -ww -z -man "$page" 2>"$tmp/manwarn"
    [ ! -s "$tmp/manwarn" ] && ok "groff -ww finds nothing in learngene(1)" || bad "groff: $(cat "$tmp/manwarn")"
fi

# ------------------------------------------------- URL and token resolution (stub server)
# Answers /v1/learngenes with 200 for "Bearer good", 401 otherwise, and
# logs the Authorization header it saw.
sport=$(free_port)
cat >"$tmp/stub.py" <<'EOF'
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        auth = self.headers.get("Authorization", "-")
        with open(sys.argv[2], "a") as f: f.write(auth + "\n")
        ok = auth == "Bearer good"
        body = json.dumps({"learngenes": []} if ok else
                          {"error": {"code": "unauthorized", "message": "bad token"}}).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
python3 "$tmp/stub.py" "$sport" "$tmp/auth.log" &
spid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$sport/" && break; sleep 0.1; done
: >"$tmp/auth.log"
stub="http://127.0.0.1:$sport"
mkdir -p "$XDG_CONFIG_HOME/learngene"
printf '# the stub\nurl = "%s/"\ntoken = good\n' "$stub" >"$XDG_CONFIG_HOME/learngene/config"
expect 0 "URL and token from the config file" "$lg" ls learngenes
LEARNGENE_TOKEN=bad expect 4 "LEARNGENE_TOKEN overrides the config file (401 -> exit 4)" "$lg" ls learngenes
has "$tmp/err" "bad token (401 unauthorized)" "401 message quotes the daemon"
LEARNGENE_TOKEN=bad expect 0 "--token overrides LEARNGENE_TOKEN" "$lg" ls learngenes --token good
LEARNGENE_URL=http://127.0.0.1:1 expect 1 "LEARNGENE_URL overrides the config file" "$lg" ls learngenes
has "$tmp/err" "http://127.0.0.1:1/v1/learngenes" "network error names the URL"
LEARNGENE_URL=http://127.0.0.1:1 expect 0 "--url overrides LEARNGENE_URL" "$lg" ls learngenes --url "$stub"
if [ "$(cat "$tmp/auth.log")" = "Bearer good
Bearer bad
Bearer good
Bearer good" ]; then ok "Authorization: Bearer sent as resolved"; else bad "auth log: $(cat "$tmp/auth.log")"; fi
printf 'url %s\n' "$stub" >"$XDG_CONFIG_HOME/learngene/config"
expect 2 "a config line without '=' is a usage error" "$lg" ls
has "$tmp/err" "config:1:" "message names the config file and line"
rm -f "$XDG_CONFIG_HOME/learngene/config"
expect 2 "an ftp:// URL" "$lg" ls --url ftp://example.org
stop "$spid"
spid=

# ------------------------------------------------- the real daemon
[ -x "$daemon" ] || { bad "no daemon at $daemon"; exit 1; }
port=$(free_port)
url="http://127.0.0.1:$port"
export LEARNGENE_URL="$url"
"$daemon" --listen "127.0.0.1:$port" --state-dir "$tmp/state" --data-dir "$LG_SRCDIR/data" \
    --set workers=1 --set blas_threads=1 --set checkpoint_every=5 >"$tmp/daemon.log" 2>&1 &
dpid=$!
ready=
for _ in $(seq 150); do
    curl -sf "$url/readyz" >/dev/null 2>&1 && { ready=1; break; }
    kill -0 "$dpid" 2>/dev/null || break
    sleep 0.2
done
[ -n "$ready" ] && ok "daemon ready on port $port" || {
    bad "daemon not ready"
    cat "$tmp/daemon.log"
    exit 1
}

# ls
expect 0 "ls" "$lg" ls
has "$tmp/out" "^LEARNGENE .*FLOPS .*PARAMS .*ACCURACY" "ls prints a learngene table"
has "$tmp/out" "^[0-9a-f]\{12\}  tleg  tleg-fmnist  1-12 " "ls shows the bundled learngene (12-hex id, depths)"
has "$tmp/out" "^[0-9a-f]\{12\}  pool  pool-fmnist  d48 " "ls shows the bundled pool"
has "$tmp/out" " d48.3.d96  *6  *16.1M  *290K  *0.7289" "ls shows pool configurations with human FLOPs"
has "$tmp/out" "^MODEL " "ls prints a models table"
expect 0 "ls --json" "$lg" ls --json
cp "$tmp/out" "$tmp/ls.json"
pyjson "$tmp/ls.json" 'sorted(d) == ["learngenes", "models", "pools"] and d["learngenes"][0]["name"] == "tleg-fmnist"' \
    "ls --json holds learngenes, pools and models"
expect 0 "ls datasets" "$lg" ls datasets
has "$tmp/out" "fashion-mnist-test  *10000  *1x28x28" "ls datasets shows the imported test set"
expect 2 "ls of an unknown list" "$lg" ls things

# get by depth (JSON) and by budget (table)
expect 0 "get --depth 4 --json" "$lg" get tleg-fmnist --depth 4 -o "$tmp/d4.safetensors" --json
cp "$tmp/out" "$tmp/d4.json"
pyjson "$tmp/d4.json" "d['sha256'] == '$(sha_of "$tmp/d4.safetensors")' == d['model']['sha256'] and d['model']['depth'] == 4" \
    "get --depth: the file's sha256 is the reported one"
expect 0 "the download is a depth-4 model" "$lg" info "$tmp/d4.safetensors"
has "$tmp/out" "depth 4 heads 3" "info shows depth 4"
[ ! -e "$tmp/d4.safetensors.part" ] && [ ! -e "$tmp/d4.safetensors.part.etag" ] && ok "no .part left" ||
    bad ".part left behind"
expect 0 "get --budget 20M" "$lg" get --budget 20M -o "$tmp/b.safetensors"
has "$tmp/out" "^solver    highest measured accuracy" "get prints the solver's reason"
has "$tmp/out" "(stitch, variant d48)" "get prints the chosen pool configuration"
has "$tmp/out" "^sha256    [0-9a-f]\{64\} (verified)" "get reports the verified sha256"
budget_model=$(sed -n 's/^model     //p' "$tmp/out")
[ "$(sha_of "$tmp/b.safetensors")" = "$(header_sha "/v1/models/$budget_model/weights")" ] &&
    ok "get --budget: sha256 equals the daemon's X-Content-SHA256" || bad "get --budget: sha256 differs"
expect 0 "get MODEL --dtype bf16" "$lg" get "${budget_model%${budget_model#????????????}}" --dtype bf16 \
    -o "$tmp/b16.safetensors"
[ "$(sha_of "$tmp/b16.safetensors")" = "$(header_sha "/v1/models/$budget_model/weights?dtype=bf16")" ] &&
    ok "bf16 download matches the daemon's bf16 sha256" || bad "bf16 sha256 differs"

# an interrupted download, resumed
LEARNGENE_RATE_LIMIT=300000 "$lg" get tleg-fmnist --depth 12 -o "$tmp/big.safetensors" >/dev/null 2>"$tmp/big1.err" &
gpid=$!
for _ in $(seq 100); do
    [ -s "$tmp/big.safetensors.part" ] && break
    sleep 0.05
done
sleep 1
kill -9 "$gpid" 2>/dev/null
wait "$gpid" 2>/dev/null
gpid=
gene_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["learngenes"][0]["id"])' "$tmp/ls.json")
big_sha=$(curl -sf -XPOST "$url/v1/models" -d "{\"from\":\"$gene_id\",\"depth\":12}" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["id"], d["sha256"])')
big_id=${big_sha% *} big_sha=${big_sha#* }
full=$(curl -sfI "$url/v1/models/$big_id/weights" | tr -d '\r' | sed -n 's/^[Cc]ontent-[Ll]ength: *//p')
part=$(wc -c <"$tmp/big.safetensors.part" 2>/dev/null || echo 0)
if [ "$part" -gt 0 ] && [ "$part" -lt "$full" ] && [ -s "$tmp/big.safetensors.part.etag" ] &&
    [ ! -e "$tmp/big.safetensors" ]; then
    ok "killed midway: big.safetensors.part has $part of $full bytes"
else
    bad "after kill -9: part $part of $full bytes"
    cat "$tmp/big1.err"
fi
expect 0 "get again resumes" "$lg" get tleg-fmnist --depth 12 -o "$tmp/big.safetensors"
has "$tmp/err" "resuming .*big.safetensors.part at byte $((part - 1))" "get says it resumed (stderr)"
has "$tmp/out" "^resumed   at byte $((part - 1))" "get reports where it resumed"
[ "$(sha_of "$tmp/big.safetensors")" = "$big_sha" ] && [ "$big_sha" = "$(header_sha "/v1/models/$big_id/weights")" ] &&
    ok "the resumed file has the daemon's sha256" || bad "resumed file sha256 $(sha_of "$tmp/big.safetensors") != $big_sha"
[ ! -e "$tmp/big.safetensors.part" ] && [ ! -e "$tmp/big.safetensors.part.etag" ] &&
    ok "the part and its ETag are gone" || bad "part files left"
head -c 70000 /dev/urandom >"$tmp/other.safetensors.part"
echo '"not-this-one"' >"$tmp/other.safetensors.part.etag"
expect 0 "a part of other bytes starts over" "$lg" get "$big_id" -o "$tmp/other.safetensors"
# the client sends If-Range with the part's ETag: the daemon answers with the
# whole file (200), and the client says it started over
has "$tmp/err" "the daemon sent the whole file again; .* started over" "get says why it starts over"
[ "$(sha_of "$tmp/other.safetensors")" = "$big_sha" ] && ok "restarted download is right" || bad "restarted sha differs"

# predict: a PGM of a test image and a raw .u8 of two more
python3 - "$fmnist" "$tmp" <<'EOF'
import gzip, sys
d, out = sys.argv[1], sys.argv[2]
img = gzip.open(d + "/t10k-images-idx3-ubyte.gz").read()[16:]
lab = gzip.open(d + "/t10k-labels-idx1-ubyte.gz").read()[8:]
open(out + "/boot.pgm", "wb").write(b"P5\n# Fashion-MNIST test image 0\n28 28\n255\n" + img[:784])
open(out + "/two.u8", "wb").write(img[784:3 * 784])
open(out + "/labels", "w").write("%d %d %d\n" % (lab[0], lab[1], lab[2]))
open(out + "/short.u8", "wb").write(img[:700])
open(out + "/rgb.ppm", "wb").write(b"P6 28 28 255\n" + bytes(3 * 784))
EOF
read -r l0 l1 l2 <"$tmp/labels"
expect 0 "predict a PGM and a raw .u8" "$lg" predict "$budget_model" "$tmp/boot.pgm" "$tmp/two.u8"
has "$tmp/out" "^IMAGE .*CLASS .*PROB" "predict prints a table"
has "$tmp/out" "boot.pgm  *$l0  " "the ankle boot (test image 0) is class $l0"
has "$tmp/out" "two.u8#0  *$l1  " "raw images are numbered (#0)"
has "$tmp/out" "two.u8#1  *$l2  " "raw images are numbered (#1)"
expect 0 "predict --json --top-k 2" "$lg" predict "$budget_model" "$tmp/boot.pgm" "$tmp/two.u8" --json --top-k 2
cp "$tmp/out" "$tmp/pred.json"
pyjson "$tmp/pred.json" "[p['top'][0]['class'] for p in d['predictions']] == [$l0, $l1, $l2] and all(len(p['top']) == 2 for p in d['predictions'])" \
    "predict --json: the three images get their labels, top-2 each"
expect 1 "predict a .u8 of the wrong size" "$lg" predict "$budget_model" "$tmp/short.u8"
has "$tmp/err" "not a multiple of one 1x28x28 image" "the message gives the size wanted"
expect 1 "predict a PPM with a 1-channel model" "$lg" predict "$budget_model" "$tmp/rgb.ppm"
has "$tmp/err" "3x28x28 (CxHxW) but the model takes 1x28x28" "the message gives both shapes"

# push: a re-serialized learngene is new (201), the bundled one is not (200)
python3 - "$LG_SRCDIR/data/tleg-fmnist.safetensors" "$tmp/gene2.safetensors" <<'EOF'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
h["__metadata__"]["note"] = "re-serialized by test_remote.sh"
hb = json.dumps(h, separators=(",", ":")).encode()
hb += b" " * (-len(hb) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(hb)) + hb + b[8 + n:])
EOF
expect 0 "push a re-serialized learngene" "$lg" push "$tmp/gene2.safetensors" --name "copy of tleg"
has "$tmp/out" "^stored learngene [0-9a-f]\{64\} (copy of tleg, tleg)" "push says stored (201) with the id"
expect 0 "push it again --json" "$lg" push "$tmp/gene2.safetensors" --json
cp "$tmp/out" "$tmp/push.json"
pyjson "$tmp/push.json" "d['stored'] is False and d['learngene']['kind'] == 'tleg'" "the second push is deduplicated"
expect 0 "push the bundled learngene" "$lg" push "$LG_SRCDIR/data/tleg-fmnist.safetensors"
has "$tmp/out" "^already stored: learngene " "push says already stored (200)"
expect 0 "push the bundled pool" "$lg" push "$LG_SRCDIR/data/pool-fmnist.safetensors"
has "$tmp/out" "^already stored: pool " "a pool goes to /v1/pools"
expect 1 "push a plain model" "$lg" push "$tmp/d4.safetensors"
has "$tmp/err" "neither a learngene nor a pool" "push explains what it wants"
expect 0 "ls shows the pushed learngene" "$lg" ls learngenes
has "$tmp/out" "copy of tleg" "the new learngene is listed"

# finetune --follow, jobs
expect 0 "finetune --follow a tiny job" "$lg" finetune tleg-fmnist --depth 2 --dataset fashion-mnist-train \
    --classes 5,6,7,8,9 --per-class 50 --epochs 1 --follow
has "$tmp/out" "^job       [0-9a-f]\{64\}" "finetune prints the job id"
has "$tmp/out" "step 4/4  loss [0-9]" "finetune --follow prints progress with the loss"
has "$tmp/out" "^succeeded  step 4/4 .*accuracy 0\.[0-9]\{4\}" "the last line says succeeded with an accuracy"
job=$(sed -n 's/^job       //p' "$tmp/out")
result=$(sed -n 's/^job .* succeeded: model //p' "$tmp/out")
expect 0 "jobs" "$lg" jobs
has "$tmp/out" "^${job%${job#????????????}}  finetune  succeeded  4/4 " "jobs lists the job"
expect 0 "jobs ID --json" "$lg" jobs "$job" --json
cp "$tmp/out" "$tmp/job.json"
pyjson "$tmp/job.json" "d['state'] == 'succeeded' and d['result'] == '$result' and d['params']['classes'] == [5,6,7,8,9]" \
    "jobs ID --json: succeeded with the fine-tuned model"
expect 0 "jobs ID" "$lg" jobs "${job%${job#????????}}"
has "$tmp/out" "^state     succeeded" "jobs ID shows the state"
expect 0 "ls jobs --json" "$lg" ls jobs --json
cp "$tmp/out" "$tmp/jobs.json"
pyjson "$tmp/jobs.json" "'$job' in [j['id'] for j in d['jobs']]" "ls jobs --json lists it"
expect 0 "get the fine-tuned model" "$lg" get "$result" -o "$tmp/ft.safetensors"
expect 0 "finetune --follow --json (JSON lines)" "$lg" finetune tleg-fmnist --depth 2 --dataset fashion-mnist-train \
    --classes 5,6,7,8,9 --per-class 50 --epochs 1 --seed 7 --follow --json
python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if "job" in lines[0] and lines[-1]["state"] == "succeeded" and len(lines) >= 3 else 1)' "$tmp/out" &&
    ok "finetune --follow --json prints one JSON object per line" || bad "JSON lines: $(cat "$tmp/out")"
expect 0 "a longer job" "$lg" finetune --budget 10M --dataset fashion-mnist-train --steps 2000 --json
cp "$tmp/out" "$tmp/long.json"
long=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["job"]["id"])' "$tmp/long.json")
expect 0 "jobs --cancel" "$lg" jobs --cancel "$long"
has "$tmp/out" "^job $long: \(cancel requested\|cancelled\)" "cancel is acknowledged"
expect 1 "following a cancelled job fails" "$lg" jobs "$long" --follow
has "$tmp/err" "job $long cancelled" "the message says it was cancelled"
expect 1 "cancelling a finished job" "$lg" jobs --cancel "$job"
has "$tmp/err" "409 conflict" "409 is reported"

# errors
expect 3 "get an unknown model" "$lg" get deadbeefdeadbeef -o "$tmp/x"
has "$tmp/err" "$url/v1/models/deadbeefdeadbeef: no model 'deadbeefdeadbeef' (404 not_found, field id)" \
    "the 404 message names the URL, the message, the code and the field"
expect 3 "grow from an unknown learngene name" "$lg" get no-such-gene --depth 3 -o "$tmp/x"
expect 3 "jobs of an unknown id" "$lg" jobs ffffffffff
expect 3 "predict with an unknown model" "$lg" predict ffffffffff "$tmp/boot.pgm"
expect 1 "a budget nothing fits (422)" "$lg" get --budget 1000 -o "$tmp/x"
has "$tmp/err" "smallest reachable" "the 422 message names the smallest budget"
expect 2 "get without -o" "$lg" get tleg-fmnist --depth 3
expect 2 "get with --depth and --budget" "$lg" get tleg-fmnist --depth 3 --budget 1G -o "$tmp/x"
expect 2 "get --depth without a source" "$lg" get --depth 3 -o "$tmp/x"
expect 2 "finetune without --dataset" "$lg" finetune tleg-fmnist --depth 2
expect 2 "a bad --dtype" "$lg" get "$big_id" --dtype f64 -o "$tmp/x"
dead=$(free_port)
expect 1 "nothing listening" "$lg" ls --url "http://127.0.0.1:$dead"
has "$tmp/err" "cannot reach http://127.0.0.1:$dead/v1/learngenes" "the network error names the URL"
[ ! -e "$tmp/x" ] && ok "failed gets write nothing" || bad "a failed get wrote $tmp/x"

echo "$fails failure(s)"
[ "$fails" = 0 ]
