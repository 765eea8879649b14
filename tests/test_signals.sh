#!/bin/sh
# test_signals.sh - learngened's signals on the real daemon (learngened(8),
# SIGNALS), with slow downloads in flight:
#   (a) SIGHUP while a download runs: log_level info -> debug takes effect
#       (requests log event=request), a command-line --set stays, the
#       download completes with the right sha256;
#   (d) SIGHUP with a changed listen: logged as needing a restart, on every
#       reload until the restart; the old port keeps serving; a broken file is
#       refused naming its line and the running config stays;
#       an online backup (sqlite3 .backup) of the running store;
#   (b) SIGTERM while a download runs: new connections are refused at once,
#       /readyz on an open connection answers 503, the download completes
#       with the right sha256, the daemon exits 0 within drain_timeout;
#   (c) on a store restored from that backup: SIGTERM, then a second SIGTERM
#       during the drain stops the daemon at once.
# The slow client is a few lines of python3 (curl --limit-rate does not hold
# its rate on loopback). Takes about 35 s. Exit 77 (skip) without python3 or
# curl.
set -u
: "${LG_BUILDDIR:=.}" "${LG_SRCDIR:=.}"
bin="$LG_BUILDDIR/daemon/learngened"
py="${PYTHON3:-python3}"
[ -n "$py" ] || py=python3
if ! command -v "$py" >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1; then
    echo "skip: needs python3 and curl"
    exit 77
fi
[ -x "$bin" ] || { echo "FAIL: no daemon binary at $bin"; exit 1; }

tmp=$(mktemp -d)
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

cleanup() {
    for f in "$tmp"/*.pid; do
        [ -f "$f" ] || continue
        p=$(cat "$f")
        [ -n "$p" ] && kill -KILL "$p" 2>/dev/null
    done
    wait 2>/dev/null
    if [ "$fails" = 0 ]; then rm -rf "$tmp"; else echo "kept $tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ------------------------------------------------------------ the slow client
cat >"$tmp/client.py" <<'EOF'
# client.py get HOST PORT PATH OUT RATE: GET PATH and read the body at RATE
#   bytes/s through a small receive window. OUT gets the body. Exits 0 when
#   the status is 200 and the body has Content-Length bytes whose sha256 is
#   X-Content-SHA256; prints what it got either way.
# client.py keepalive HOST PORT FLAG: GET /readyz, wait for the file FLAG,
#   GET /readyz again on the same connection; prints both statuses.
import hashlib, os, socket, sys, time

def connect(host, port, rcvbuf=None):
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect((host, int(port)))
    return s

def head(s, buf=b""):
    while b"\r\n\r\n" not in buf:
        b = s.recv(4096)
        if not b:
            raise SystemExit("client.py: connection closed in the headers")
        buf += b
    h, rest = buf.split(b"\r\n\r\n", 1)
    lines = h.decode("latin-1").split("\r\n")
    hdr = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return int(lines[0].split()[1]), hdr, rest

if sys.argv[1] == "get":
    host, port, path, out, rate = sys.argv[2:7]
    rate = float(rate)
    s = connect(host, port, 8192)
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, host)).encode())
    status, hdr, body = head(s)
    want = int(hdr.get("content-length", "-1"))
    h = hashlib.sha256(body)
    n, t0 = len(body), time.monotonic()
    with open(out, "wb") as f:
        f.write(body)
        f.flush()
        while True:
            try:
                b = s.recv(4096)
            except ConnectionError:
                break
            if not b:
                break
            f.write(b)
            h.update(b)
            n += len(b)
            ahead = n / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
    good = status == 200 and n == want and h.hexdigest() == hdr.get("x-content-sha256")
    print("client.py: status %d, %d of %d bytes in %.1f s, sha256 %s" % (status, n, want, time.monotonic() - t0,
          "matches X-Content-SHA256" if good else h.hexdigest() + " vs " + hdr.get("x-content-sha256", "(none)")))
    sys.exit(0 if good else 1)

if sys.argv[1] == "keepalive":
    host, port, flag = sys.argv[2:5]
    s = connect(host, port)
    req = ("GET /readyz HTTP/1.1\r\nHost: %s\r\n\r\n" % host).encode()
    rest = b""
    for i in range(2):
        if i == 1:
            for _ in range(300):
                if os.path.exists(flag):
                    break
                time.sleep(0.05)
        s.sendall(req)
        status, hdr, rest = head(s, rest)
        n = int(hdr.get("content-length", "0"))
        while len(rest) < n:
            rest += s.recv(4096)
        rest = rest[n:]
        print("readyz %d" % status, flush=True)
EOF

# ------------------------------------------------------------------ helpers
# start NAME CONF [ARGS…]: the daemon in the background on CONF; NAME.pid
# gets its pid, NAME.rc its exit status when it ends, NAME.log its log.
# Waits for its listen line and sets port and base.
start() {
    name=$1 conf=$2
    shift 2
    log="$tmp/$name.log"
    (
        sh -c 'echo $$ >"$0"; exec "$@"' "$tmp/$name.pid" "$bin" --foreground -c "$conf" \
            --data-dir "$LG_SRCDIR/data" --fmnist-dir "" "$@" >"$log" 2>&1 </dev/null
        echo $? >"$tmp/$name.rc"
    ) &
    port=
    i=0
    while [ $i -lt 300 ]; do
        port=$(sed -n 's/.*event=listen .*port=\([0-9]*\).*/\1/p' "$log" 2>/dev/null | head -1)
        [ -n "$port" ] && break
        [ -f "$tmp/$name.rc" ] && break
        sleep 0.1
        i=$((i + 1))
    done
    if [ -z "$port" ]; then
        bad "$name: the daemon did not start; its log:"
        cat "$log"
        exit 1
    fi
    pid=$(cat "$tmp/$name.pid")
    base="http://127.0.0.1:$port"
}

# wait_for FILE PATTERN SECONDS: until a line of FILE matches (grep -E).
wait_for() {
    i=0
    while [ $i -lt $(($3 * 10)) ]; do
        grep -Eq "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# wait_started FILE: until the download has written some of its body.
wait_started() {
    i=0
    while [ $i -lt 100 ]; do
        [ -s "$1" ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# wait_exit NAME SECONDS: until NAME.rc exists; sets rc (empty on timeout).
wait_exit() {
    rc=
    i=0
    while [ $i -lt $(($2 * 20)) ]; do
        if [ -s "$tmp/$1.rc" ]; then
            rc=$(cat "$tmp/$1.rc")
            rm -f "$tmp/$1.pid"
            return 0
        fi
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}

# slow_get NAME RATE: the client downloading model $M at RATE bytes/s in the
# background; NAME.body, NAME.out, and NAME.crc (its exit status) at the end.
slow_get() {
    ("$py" "$tmp/client.py" get 127.0.0.1 "$port" "/v1/models/$M/weights" "$tmp/$1.body" "$2" >"$tmp/$1.out" 2>&1
     echo $? >"$tmp/$1.crc") &
}

# wait_client NAME SECONDS: until the client ends; sets crc.
wait_client() {
    crc=
    i=0
    while [ $i -lt $(($2 * 10)) ]; do
        if [ -s "$tmp/$1.crc" ]; then
            crc=$(cat "$tmp/$1.crc")
            return 0
        fi
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# lines_after LOG N: the log's lines after its first N.
lines_after() { tail -n +$(($2 + 1)) "$1"; }

# write_conf FILE LINES…: a config for these tests (listen = $listen) plus LINES.
listen=127.0.0.1:0
write_conf() {
    f=$1
    shift
    {
        echo "# written by tests/test_signals.sh"
        echo "listen = $listen"
        echo "workers = 1"
        echo "blas_threads = 1"
        echo "cache_mb = 64"
        printf '%s\n' "$@"
    } >"$f"
}

# -------------------------------------------------------------------- start
conf="$tmp/d1.conf"
write_conf "$conf" "state_dir = $tmp/state" "drain_timeout = 20" "log_level = info"
# cache_mb on the command line: a reload must keep this override
start d1 "$conf" --set cache_mb=7
d1_log=$log
ok "daemon started on port $port (pid $pid)"
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")
[ "$code" = 200 ] && ok "GET /readyz 200" || bad "GET /readyz: $code"

# A model of 15 MB (depth 12, 30000 classes): more than the loopback socket
# buffers hold, so the daemon is still writing it while the client reads.
G=$(curl -s "$base/v1/learngenes" |
    "$py" -c 'import json,sys; print([g["id"] for g in json.load(sys.stdin)["learngenes"] if g["kind"]=="tleg"][0])')
M=$(curl -s -XPOST "$base/v1/models" -d "{\"from\":\"$G\",\"depth\":12,\"classes\":30000}" |
    "$py" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
if [ -z "$M" ]; then
    bad "could not grow the test model from learngene '$G'"
    exit 1
fi
ok "grew model ${M%"${M#????????}"} from learngene ${G%"${G#????????}"}"

# ---------------------------------------- (a) SIGHUP with a request in flight
n0=$(wc -l <"$d1_log")
curl -s -o /dev/null "$base/v1/version"
sleep 0.2
if lines_after "$d1_log" "$n0" | grep -q 'event=request'; then
    bad "at log_level=info a request logged event=request"
else
    ok "at log_level=info requests are not logged"
fi

slow_get a 1500000
wait_started "$tmp/a.body" || bad "(a) the download did not start"
write_conf "$conf" "state_dir = $tmp/state" "drain_timeout = 20" "log_level = debug"
n0=$(wc -l <"$d1_log")
kill -HUP "$pid"
if wait_for "$d1_log" 'event=reload log_level=debug' 5; then
    ok "(a) SIGHUP reloaded the file: log_level=debug"
else
    bad "(a) no reload line with log_level=debug"
fi
[ -s "$tmp/a.crc" ] && bad "(a) the download had finished before the reload: the test proves nothing"
lines_after "$d1_log" "$n0" | grep -q 'event=reload .*cache_mb=7' &&
    ok "(a) the command-line --set cache_mb=7 survived the reload" ||
    bad "(a) the reload dropped the command-line --set cache_mb=7: $(grep 'event=reload' "$d1_log" | tail -1)"
curl -s -o /dev/null "$base/v1/version"
if wait_for "$d1_log" 'debug event=request .*path="/v1/version" status=200' 3; then
    ok "(a) after the reload a request logs event=request at debug"
else
    bad "(a) no debug event=request line after the reload"
fi
# The token set changes under the same in-flight download: token A, then B.
A=$("$bin" --new-token read A 2>/dev/null)
B=$("$bin" --new-token read B 2>/dev/null)
echo "$A" | sed -n 's/^tokens_file line: //p' >"$tmp/tokens"
write_conf "$conf" "state_dir = $tmp/state" "drain_timeout = 20" "log_level = debug" "tokens_file = $tmp/tokens"
kill -HUP "$pid"
wait_for "$d1_log" 'event=reload tokens=1' 5 || bad "(a) no reload line with tokens=1"
TA=$(echo "$A" | sed -n 's/^token: //p')
TB=$(echo "$B" | sed -n 's/^token: //p')
c1=$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/learngenes")
c2=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TA" "$base/v1/learngenes")
[ "$c1" = 401 ] && [ "$c2" = 200 ] && ok "(a) after SIGHUP with tokens: 401 without a token, 200 with A" ||
    bad "(a) tokens after SIGHUP: without $c1, with A $c2"
echo "$B" | sed -n 's/^tokens_file line: //p' >"$tmp/tokens"
kill -HUP "$pid"
i=0
while [ "$(grep -c 'event=reload tokens=1' "$d1_log")" -lt 2 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
c1=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TA" "$base/v1/learngenes")
c2=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TB" "$base/v1/learngenes")
[ "$c1" = 401 ] && [ "$c2" = 200 ] && ok "(a) after SIGHUP with token B only: 401 with A, 200 with B" ||
    bad "(a) token swap: with A $c1, with B $c2"
[ -s "$tmp/a.crc" ] && bad "(a) the download had finished before the token swaps: they prove nothing about it"
for t in "$TA" "$TB"; do grep -q "$t" "$d1_log" && bad "(a) a token secret is in the log"; done
# back to no tokens for the rest
write_conf "$conf" "state_dir = $tmp/state" "drain_timeout = 20" "log_level = debug"
kill -HUP "$pid"
wait_for "$d1_log" 'event=reload tokens=0' 5 || bad "(a) no reload line with tokens=0"
wait_client a 60 || bad "(a) the download did not end within 60 s"
if [ "$crc" = 0 ]; then ok "(a) the download in flight across SIGHUP completed: $(cat "$tmp/a.out")"; else
    bad "(a) the download across SIGHUP: $(cat "$tmp/a.out")"
fi
grep -q "event=request method=GET path=\"/v1/models/$M/weights\" status=200" "$d1_log" &&
    ok "(a) its request ended with 200 and was logged at the new level" ||
    bad "(a) no event=request line for the download"

# ------------------------------------------- (d) options that need a restart
listen=127.0.0.1:1
write_conf "$conf" "state_dir = $tmp/state" "drain_timeout = 20" "log_level = debug"
listen=127.0.0.1:0
n0=$(wc -l <"$d1_log")
kill -HUP "$pid"
if wait_for "$d1_log" 'changed="listen".*need a restart' 5; then
    ok "(d) a changed listen is logged as needing a restart"
else
    bad "(d) no 'changed=\"listen\" ... need a restart' line: $(lines_after "$d1_log" "$n0")"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")
[ "$code" = 200 ] && ok "(d) still serving on the old port" || bad "(d) old port after the reload: $code"
sleep 0.2
kill -HUP "$pid"
i=0
while [ $i -lt 30 ] && [ "$(grep -c 'changed="listen"' "$d1_log")" -lt 2 ]; do
    sleep 0.1
    i=$((i + 1))
done
[ "$(grep -c 'changed="listen"' "$d1_log")" -ge 2 ] &&
    ok "(d) a second reload still reports listen (the running value is kept)" ||
    bad "(d) the second reload forgot that listen still needs a restart"

printf '# broken\nlog_level = debug\nworkers = 0\n' >"$conf"
kill -HUP "$pid"
if wait_for "$d1_log" "d1.conf:3: workers = 0 is below the minimum 1; keeping the running config" 5; then
    ok "(d) a broken file is refused with its line and option; the running config stays"
else
    bad "(d) broken config on reload: $(tail -3 "$d1_log")"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")
[ "$code" = 200 ] && ok "(d) still serving after the refused reload" || bad "(d) after the refused reload: $code"
write_conf "$conf" "state_dir = $tmp/state" "drain_timeout = 20" "log_level = debug"

# ---------------------------------------------- online backup of the store
have_sqlite=0
if command -v sqlite3 >/dev/null 2>&1; then
    have_sqlite=1
    if sqlite3 "$tmp/state/learngened.db" ".backup '$tmp/backup.db'" 2>"$tmp/bk.err"; then
        ok "sqlite3 .backup of the running daemon's store"
    else
        bad "sqlite3 .backup while running: $(cat "$tmp/bk.err")"
    fi
    chk=$(sqlite3 "$tmp/backup.db" "PRAGMA integrity_check" 2>&1)
    [ "$chk" = ok ] && ok "the backup passes PRAGMA integrity_check" || bad "backup integrity_check: $chk"
    has=$(sqlite3 "$tmp/backup.db" "SELECT count(*) FROM models WHERE id = '$M'" 2>&1)
    [ "$has" = 1 ] && ok "the backup holds the model" || bad "the backup lacks model $M: $has"
else
    echo "skip: no sqlite3 command; the online-backup check did not run"
fi

# ---------------------------------------------------- (b) SIGTERM drains
slow_get b 1500000
rm -f "$tmp/flag"
"$py" "$tmp/client.py" keepalive 127.0.0.1 "$port" "$tmp/flag" >"$tmp/ka.out" 2>&1 &
wait_started "$tmp/b.body" || bad "(b) the download did not start"
wait_for "$tmp/ka.out" '^readyz 200' 5 || bad "(b) GET /readyz before SIGTERM: $(cat "$tmp/ka.out")"
t0=$(now_ms)
kill -TERM "$pid"
wait_for "$d1_log" 'event=stop signal=15' 3 || bad "(b) no stop line after SIGTERM"
grep -q 'event=stop signal=15 inflight=[1-9]' "$d1_log" &&
    ok "(b) SIGTERM with requests in flight: $(grep -o 'inflight=[0-9]*' "$d1_log" | tail -1)" ||
    bad "(b) SIGTERM found nothing in flight: $(grep 'event=stop' "$d1_log")"
curl -s -m 3 -o /dev/null "$base/healthz"
e=$?
case $e in
7) ok "(b) a new connection during the drain is refused at once" ;;
28) bad "(b) a new connection during the drain hangs (curl timed out): the listening socket stays open after MHD_quiesce_daemon (api/server.c lga_quiesce must close the socket it returns)" ;;
0) bad "(b) a new connection during the drain was answered" ;;
*) bad "(b) a new connection during the drain: curl exit $e, want 7 (connection refused)" ;;
esac
touch "$tmp/flag"
if wait_for "$tmp/ka.out" '^readyz 503' 5; then
    ok "(b) GET /readyz on an open connection answers 503 while draining"
else
    bad "(b) GET /readyz on an open connection while draining: $(tr '\n' ' ' <"$tmp/ka.out")"
fi
wait_client b 60 || bad "(b) the download did not end within 60 s"
if [ "$crc" = 0 ]; then ok "(b) the download in flight at SIGTERM completed: $(cat "$tmp/b.out")"; else
    bad "(b) the download in flight at SIGTERM: $(cat "$tmp/b.out")"
fi
if wait_exit d1 30; then
    ms=$(($(now_ms) - t0))
    [ "$rc" = 0 ] && ok "(b) the daemon exited 0, $ms ms after SIGTERM" || bad "(b) exit status $rc after SIGTERM"
    [ "$ms" -le 22000 ] && ok "(b) within drain_timeout = 20 s (+2 s)" || bad "(b) took $ms ms, drain_timeout is 20 s"
else
    bad "(b) the daemon still runs 30 s after SIGTERM"
fi
grep -q 'event=stop msg="stopped cleanly"' "$d1_log" && ok "(b) the log says it stopped cleanly" ||
    bad "(b) no 'stopped cleanly' line"
grep -q 'abandoned=' "$d1_log" && bad "(b) the drain abandoned requests: $(grep abandoned= "$d1_log")"
wait 2>/dev/null

# -------------------------------------- (c) a second SIGTERM stops at once
state2="$tmp/state"
if [ "$have_sqlite" = 1 ]; then
    # restore the backup into a new state dir: the documented restore
    state2="$tmp/restored"
    mkdir -p "$state2"
    cp "$tmp/backup.db" "$state2/learngened.db"
fi
conf2="$tmp/d2.conf"
write_conf "$conf2" "state_dir = $state2" "drain_timeout = 30" "log_level = info"
start d2 "$conf2"
d2_log=$log
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/models/$M")
if [ "$have_sqlite" = 1 ]; then
    [ "$code" = 200 ] && ok "(c) a daemon on the restored backup serves the model" ||
        bad "(c) GET /v1/models/{id} on the restored backup: $code"
fi
slow_get c 400000
wait_started "$tmp/c.body" || bad "(c) the download did not start"
kill -TERM "$pid"
wait_for "$d2_log" 'event=stop signal=15' 3 || bad "(c) no stop line after the first SIGTERM"
sleep 1
[ -s "$tmp/d2.rc" ] && bad "(c) the daemon did not drain the slow download (exited after the first SIGTERM)"
t0=$(now_ms)
kill -TERM "$pid"
if wait_exit d2 10; then
    ms=$(($(now_ms) - t0))
    [ "$ms" -le 2000 ] && ok "(c) a second SIGTERM stopped it in $ms ms (exit $rc)" ||
        bad "(c) a second SIGTERM took $ms ms to stop it"
    [ "$rc" = 0 ] || bad "(c) exit status $rc after the second SIGTERM"
else
    bad "(c) the daemon still runs 10 s after a second SIGTERM"
fi
grep -q 'second signal: stopping now' "$d2_log" && ok "(c) the log says the second signal stopped it" ||
    bad "(c) no 'second signal' line"
wait_client c 10
[ "$crc" = 0 ] && bad "(c) the download completed although the daemon stopped at once"

if [ "$fails" -ne 0 ]; then
    echo "--- d1 log (tail)"
    tail -25 "$d1_log"
    echo "--- d2 log (tail)"
    tail -10 "$d2_log"
fi
echo "$fails failure(s)"
[ "$fails" -eq 0 ]
