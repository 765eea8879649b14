#!/bin/sh
# test_status_page.sh - the status page in a real browser. Headless
# Chromium loads / from the real daemon (the bundled learngene and pool, a
# fine-tune job running) and the DOM it dumps must show the learngene and
# pool rows, the FLOPs-accuracy chart (a point per measured configuration
# and the frontier), the solver's answer to /?budget=1e8 with its download
# links, and the job's progress bar fed by its event stream - with no
# Content-Security-Policy violation or script error logged. Then the page
# in a second daemon with tokens: it must ask for one. Writes a screenshot
# to $LG_BUILDDIR/status-page.png (docs/status-page.png is one).
# Skips (77) without chromium (Debian: apt-get install chromium).
set -u
: "${LG_BUILDDIR:=.}" "${LG_SRCDIR:=.}"
chrome=$(command -v chromium || true)
if [ -z "$chrome" ]; then
    echo "SKIP: chromium is not installed (apt-get install chromium)"
    exit 77
fi
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }
daemon="$LG_BUILDDIR/daemon/learngened"
tmp=$(mktemp -d)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
# Chromium writes its profile and caches under HOME / XDG dirs: keep them in tmp.
export HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/.config" XDG_CACHE_HOME="$tmp/home/.cache"
mkdir -p "$HOME"

# start NAME ARGS...: a daemon on a free port (:0; the port comes from its
# "event=listen" log line); sets $base.
start() {
    name=$1
    shift
    "$daemon" --listen 127.0.0.1:0 --state-dir "$tmp/$name" --data-dir "$LG_SRCDIR/data" --set workers=1 \
        --set blas_threads=1 "$@" >"$tmp/$name.log" 2>&1 &
    pids="$pids $!"
    port=""
    for _ in $(seq 1 100); do
        port=$(sed -n 's/.*event=listen .*port=\([0-9]*\).*/\1/p' "$tmp/$name.log" | head -n 1)
        [ -n "$port" ] && curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
        port=""
        sleep 0.2
    done
    if [ -z "$port" ]; then
        echo "FAIL: the $name daemon did not start:"
        cat "$tmp/$name.log"
        exit 1
    fi
    base="http://127.0.0.1:$port"
}

# browse URL ARGS...: headless Chromium on URL with ARGS (--dump-dom,
# --screenshot=…); its console goes to $tmp/console.
browse() {
    url=$1
    shift
    timeout 60 "$chrome" --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
        --user-data-dir="$tmp/chrome" --hide-scrollbars --enable-logging=stderr --v=0 \
        --virtual-time-budget=5000 "$@" "$url" 2>>"$tmp/console"
}

started=$(date +%s)
start open

# --- the files: headers and no inline script, style or handler
curl -s -D "$tmp/h" -o "$tmp/page.html" "$base/"
grep -qi '^content-type: text/html; charset=utf-8' "$tmp/h" && ok "/ is text/html; charset=utf-8" ||
    bad "/ content type: $(cat "$tmp/h")"
grep -qi '^cache-control: no-cache' "$tmp/h" && ok "/ is not cached" || bad "/ lacks Cache-Control: no-cache"
csp=$(sed -n 's/^[Cc]ontent-[Ss]ecurity-[Pp]olicy: //p' "$tmp/h" | tr -d '\r')
case "$csp" in
*"default-src 'self'"*unsafe*) bad "CSP allows unsafe sources: $csp" ;;
*"default-src 'self'"*) ok "strict CSP: $csp" ;;
*) bad "no strict Content-Security-Policy on /: '$csp'" ;;
esac
if grep -Eiq '<script>|<script [^>]*>[^<]|<style|style=|[[:space:]]on[a-z]+=' "$tmp/page.html"; then
    bad "the HTML has inline script, style or event handlers"
else
    ok "no inline script, style or event handler in the HTML"
fi
for f in status.js:text/javascript status.css:text/css; do
    ct=$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$base/${f%%:*}")
    case "$ct" in "200 ${f#*:}"*) ok "/${f%%:*} served as ${f#*:}" ;; *) bad "/${f%%:*}: $ct" ;; esac
done

# --- a fine-tune job that runs while the page is looked at
gene=$(curl -s "$base/v1/learngenes" | grep -o '"id":"[0-9a-f]\{64\}"' | head -n 1 | cut -d'"' -f4)
train=$(curl -s "$base/v1/datasets" | sed 's/},{/}\n{/g' | grep '"name":"fashion-mnist-train"' |
    grep -o '"id":"[0-9a-f]\{64\}"' | cut -d'"' -f4)
job=""
if [ -n "$gene" ] && [ -n "$train" ]; then
    job=$(curl -s -X POST "$base/v1/models" -H 'Content-Type: application/json' \
        -d "{\"from\":\"$gene\",\"depth\":6,\"classes\":5,\"finetune\":{\"dataset\":\"$train\",\
\"classes\":[5,6,7,8,9],\"per_class\":500,\"epochs\":10}}" | grep -o '"job":{"id":"[0-9a-f]*"' | cut -d'"' -f6)
    [ -n "$job" ] && ok "queued fine-tune job ${job%"${job#????????????}"}" || bad "could not queue a fine-tune job"
    # wait until it has made progress
    for _ in $(seq 1 150); do
        curl -s "$base/v1/jobs/$job" | grep -q '"step":[1-9]' && break
        sleep 0.2
    done
else
    echo "note: no learngene or no fashion-mnist-train dataset (Debian's fashion-mnist): no job to watch"
fi

# --- the page in the browser: /?budget=1e8 asks the solver on load
expect_model=$(curl -s -X POST "$base/v1/models" -d '{"budget":{"flops":1e8}}' | grep -o '^{"id":"[0-9a-f]*"' |
    cut -d'"' -f4)
browse "$base/?budget=1e8" --dump-dom >"$tmp/dom.html"
dom="$tmp/dom.html"
count() { grep -o "$1" "$dom" | wc -l; }
[ "$(count '<tr class="gene" data-kind="tleg"')" -ge 1 ] && ok "the TLEG learngene has a row" ||
    bad "no learngene row in the DOM"
[ "$(count '<tr class="gene" data-kind="pool"')" -ge 1 ] && ok "the pool has a row" || bad "no pool row in the DOM"
n=$(count '<tr class="configuration')
[ "$n" -ge 7 ] && ok "$n pool configurations listed" || bad "$n pool configuration rows, want 7"
n=$(count '<circle class="point[ "]')
[ "$n" -ge 7 ] && ok "chart: $n measured points" || bad "chart: $n circle.point elements, want >= 7"
grep -q '<svg id="frontier-chart"[^>]*>.*<path class="frontier" d="M[0-9]' "$dom" && ok "chart: frontier path drawn" ||
    bad "chart: no path.frontier"
n=$(count '<circle class="point[^"]*on-frontier')
[ "$n" -ge 1 ] && ok "chart: $n points on the frontier" || bad "chart: no point marked on-frontier"
grep -q '<circle class="point[^>]*><title>[^<]*FLOPs, accuracy [0-9.]*%</title>' "$dom" &&
    ok "chart: points have hover titles" || bad "chart: no point title like '… FLOPs, accuracy …%'"
if [ -n "$expect_model" ] && grep -q "<dl id=\"answer-model\" data-id=\"$expect_model\"" "$dom"; then
    ok "the form's answer for 1e8 FLOPs is the solver's pick"
else
    bad "no answer-model for $expect_model: $(grep -o '<div id="answer">.\{0,300\}' "$dom")"
fi
grep -q 'expected accuracy</dt><dd>[0-9.]*%' "$dom" && ok "the answer shows the expected accuracy" ||
    bad "no expected accuracy in the answer"
href=$(grep -o 'id="download-f32" class="download" href="[^"]*"' "$dom" | cut -d'"' -f6)
case "$href" in
"/v1/models/$expect_model/weights")
    got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "$base$href")
    case "$got" in 200\ [1-9]*) ok "the f32 download link works ($got bytes)" ;; *) bad "download $href: $got" ;; esac
    ;;
*) bad "f32 download link is '$href'" ;;
esac
grep -q "id=\"download-f16\" class=\"download\" href=\"/v1/models/$expect_model/weights?dtype=f16\"" "$dom" &&
    ok "f16 download link" || bad "no f16 download link"
if [ -n "$job" ]; then
    row=$(grep -o "<tr class=\"job\" id=\"job-$job\".*" "$dom" | sed 's,</tr>.*,,')
    value=$(echo "$row" | sed -n 's/.*<progress max="1" value="\([0-9.e-]*\)">.*/\1/p')
    events=$(echo "$row" | sed -n 's/.*data-events="\([0-9]*\)".*/\1/p')
    state=$(echo "$row" | sed -n 's/.*data-state="\([a-z]*\)".*/\1/p')
    if [ -n "$value" ] && awk -v v="$value" 'BEGIN { exit !(v > 0) }'; then
        ok "the $state job shows progress $value"
    else
        bad "job row without progress > 0: $row"
    fi
    [ "${events:-0}" -ge 1 ] && ok "the job row was updated from its event stream ($events events)" ||
        bad "no progress event reached the job row: $row"
fi
if grep -E 'Content Security Policy|Uncaught|TypeError|ReferenceError' "$tmp/console"; then
    bad "the page logged errors (above)"
else
    ok "no CSP violation or script error in the console"
fi

browse "$base/?budget=1e8" --screenshot="$tmp/shot.png" --window-size=1280,1000 >/dev/null
if [ -s "$tmp/shot.png" ] && [ "$(head -c 4 "$tmp/shot.png" | od -An -c | tr -d ' ')" = "211PNG" ]; then
    cp "$tmp/shot.png" "$LG_BUILDDIR/status-page.png" && ok "screenshot in $LG_BUILDDIR/status-page.png"
else
    bad "no screenshot written"
fi
[ -n "$job" ] && curl -s -o /dev/null -X DELETE "$base/v1/jobs/$job"

# --- with tokens configured: / stays open, the API answers 401, the page asks for a token
if secret=$("$daemon" --new-token read tester 2>/dev/null) && line=$(echo "$secret" | sed -n 's/^tokens_file line: //p') &&
    [ -n "$line" ]; then
    echo "$line" >"$tmp/tokens"
    chmod 600 "$tmp/tokens"
    start auth --set tokens_file="$tmp/tokens"
    page=$(curl -s -o /dev/null -w '%{http_code}' "$base/")
    js=$(curl -s -o /dev/null -w '%{http_code}' "$base/status.js")
    api=$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/pools")
    [ "$page $js $api" = "200 200 401" ] && ok "with tokens: / and /status.js open, /v1/pools 401" ||
        bad "with tokens: / $page, /status.js $js, /v1/pools $api (want 200 200 401)"
    browse "$base/" --dump-dom >"$dom"
    grep -q '<form id="auth" class="auth">' "$dom" && ok "with tokens: the page shows the token form" ||
        bad "with tokens: no visible token form: $(grep -o '<form id="auth"[^>]*>' "$dom")"
    [ "$(count '<tr class="gene"')" -eq 0 ] && ok "with tokens: no data shown without a token" ||
        bad "with tokens: rows shown without a token"
else
    echo "note: learngened --new-token is unavailable: auth part skipped"
fi

echo "took $(($(date +%s) - started)) s"
[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all status page checks passed"
