#!/bin/sh
# tests/test_auth.sh - bearer tokens on the real daemon: 401 without a
# token, 403 for a read token on a write route, 200/201 with the right one,
# health and the status page open, tokens reloaded on SIGHUP, no secret in
# the log, a non-loopback listen refused without tokens, and --new-token
# refusing a scope it does not know.
set -u
build=${LG_BUILDDIR:-.}
src=${LG_SRCDIR:-.}
d=$build/daemon/learngened
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; echo "--- daemon log"; tail -20 "$tmp/log"; exit 1; }

secret() { "$d" --new-token "$1" "$2" 2>/dev/null | sed -n 's/^token: //p'; }
line() { "$d" --new-token "$1" "$2" 2>/dev/null | sed -n 's/^tokens_file line: //p'; }
# a token and its line come from one call
mk() { out=$("$d" --new-token "$1" "$2" 2>/dev/null); echo "$out"; }
w=$(mk write ops); r=$(mk read dash)
W=$(echo "$w" | sed -n 's/^token: //p'); R=$(echo "$r" | sed -n 's/^token: //p')
{ echo "# test tokens"; echo "$w" | sed -n 's/^tokens_file line: //p'; echo "$r" | sed -n 's/^tokens_file line: //p'; } >"$tmp/tokens"
grep -q "$W" "$tmp/tokens" && fail "the tokens file holds a secret"
# a scope other than read or write: exit 2, a message naming it, no token
bad=$("$d" --new-token admin ops 2>"$tmp/err"); rc=$?
[ "$rc" = 2 ] || fail "--new-token admin exited $rc, not 2"
[ -z "$bad" ] || fail "--new-token admin printed a token: $bad"
grep -q "read or write, not 'admin'" "$tmp/err" || fail "--new-token admin said: $(cat "$tmp/err")"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$tmp/conf" <<EOC
listen = 127.0.0.1:$port
state_dir = $tmp/state
data_dir = $src/data
fmnist_dir = ""
tokens_file = $tmp/tokens
workers = 1
blas_threads = 1
log_level = debug
EOC
"$d" -c "$tmp/conf" 2>"$tmp/log" &
pid=$!
u=http://127.0.0.1:$port
for _ in $(seq 100); do curl -sf "$u/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

code() { curl -s -o "$tmp/body" -w '%{http_code}' "$@"; }
[ "$(code "$u/healthz")" = 200 ] || fail "/healthz should be open"
[ "$(code "$u/v2/health/ready")" = 200 ] || fail "/v2/health/ready should be open"
[ "$(code "$u/")" = 200 ] || fail "the status page should be open"
[ "$(code "$u/v1/learngenes")" = 401 ] || fail "GET /v1/learngenes without a token should be 401"
grep -q '"unauthorized"' "$tmp/body" || fail "401 body: $(cat "$tmp/body")"
curl -s -D - -o /dev/null "$u/v1/learngenes" | grep -qi '^WWW-Authenticate: Bearer' || fail "401 without WWW-Authenticate"
[ "$(code -H "Authorization: Bearer nope" "$u/v1/learngenes")" = 401 ] || fail "a wrong token should be 401"
[ "$(code -H "Authorization: Bearer $R" "$u/v1/learngenes")" = 200 ] || fail "a read token should list"
gene=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["learngenes"][0]["id"])' "$tmp/body")
[ "$(code -H "Authorization: Bearer $R" -XPOST "$u/v1/models" -d "{\"from\":\"$gene\",\"depth\":2}")" = 403 ] ||
    fail "a read token should not grow models (POST is write): $(cat "$tmp/body")"
grep -q '"forbidden"' "$tmp/body" || fail "403 body: $(cat "$tmp/body")"
[ "$(code -H "Authorization: Bearer $W" -XPOST "$u/v1/models" -d "{\"from\":\"$gene\",\"depth\":2}")" = 201 ] ||
    fail "a write token should grow a model: $(cat "$tmp/body")"
model=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$tmp/body")
python3 -c 'import sys; sys.stdout.buffer.write(bytes(784))' >"$tmp/img"
[ "$(code -H "Authorization: Bearer $R" -H 'Content-Type: application/x-u8' --data-binary @"$tmp/img" \
    "$u/v1/models/$model/predict")" = 200 ] || fail "a read token should predict: $(cat "$tmp/body")"
[ "$(code -H "Authorization: Bearer $R" "$u/metrics")" = 200 ] || fail "a read token should read /metrics"

# SIGHUP: the read token removed, a new one added, without a restart
n=$(mk read fresh); N=$(echo "$n" | sed -n 's/^token: //p')
{ echo "$w" | sed -n 's/^tokens_file line: //p'; echo "$n" | sed -n 's/^tokens_file line: //p'; } >"$tmp/tokens"
kill -HUP $pid
for _ in $(seq 50); do grep -q 'event=reload.*tokens=2' "$tmp/log" && break; sleep 0.1; done
[ "$(code -H "Authorization: Bearer $R" "$u/v1/learngenes")" = 401 ] || fail "the removed token still works after SIGHUP"
[ "$(code -H "Authorization: Bearer $N" "$u/v1/learngenes")" = 200 ] || fail "the new token does not work after SIGHUP"
# a broken tokens file keeps the running set
echo "admin 123" >"$tmp/tokens"
kill -HUP $pid
for _ in $(seq 50); do grep -q 'keeping the running tokens' "$tmp/log" && break; sleep 0.1; done
grep -q 'tokens:1: the scope must be read or write' "$tmp/log" || fail "a bad tokens file should be reported with its line"
[ "$(code -H "Authorization: Bearer $N" "$u/v1/learngenes")" = 200 ] || fail "a bad tokens file dropped the running tokens"

for s in "$W" "$R" "$N"; do grep -q "$s" "$tmp/log" && fail "a secret appears in the log"; done
kill $pid; wait $pid; pid=

# no tokens and a non-loopback address: refused at start, with the reason
"$d" --listen 0.0.0.0:0 --state-dir "$tmp/state2" --data-dir "" --fmnist-dir "" 2>"$tmp/log2" &&
    fail "listening on 0.0.0.0 without tokens should be refused"
grep -q "refusing to listen on 0.0.0.0 without authentication" "$tmp/log2" || fail "no reason given: $(cat "$tmp/log2")"
echo "PASS: auth"
