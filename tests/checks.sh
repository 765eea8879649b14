# tests/checks.sh - the tally the shell tests share, sourced after they set
# $tmp: ok and bad count checks in $fails; expect runs a command, keeps its
# output in $tmp/out and $tmp/err, and checks its exit code.
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
expect() { # expected-exit-code description command...
    want=$1 what=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" = "$want" ]; then ok "$what (exit $got)"; else
        bad "$what: exit $got, want $want"
        sed 's/^/    /' "$tmp/err" | head -20
    fi
}
