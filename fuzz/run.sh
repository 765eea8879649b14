#!/bin/sh
# shellcheck disable=SC2012,SC2046,SC2086,SC2116,SC3013  # flag lists are split on purpose; dash has -nt
# fuzz/run.sh - builds the libFuzzer harnesses with clang and runs each for
# FUZZ_SECONDS over its seed corpus; any crash, leak, timeout or broken
# property fails the run. `make fuzz` calls it; see docs/reliability.md.
#
# Usage: fuzz/run.sh [BUILDDIR [SRCDIR [seeds]]]
#   FUZZ_SECONDS=60      seconds per harness; 0 only replays the corpus and
#                        regressions once (no fuzzing)
#   FUZZ_TARGETS="..."   harnesses to run (default: all eight)
#   FUZZ_JOBS=1          harnesses run at once
#   FUZZ_FLAGS="..."     extra libFuzzer flags (e.g. -dict=…, -workers=…)
#   CLANG=clang          the compiler
#   FUZZ_CFLAGS="..."    extra compiler flags for the whole fuzz build
# With "seeds" as third argument it rebuilds the binary seed files
# (fuzz/make_seeds.c) into SRCDIR/fuzz/corpus instead of fuzzing.
#
# The project's sources are compiled here with clang and the same
# sanitizers (not the gcc-built libtool objects) into BUILDDIR/fuzz/out/;
# new inputs land in fuzz/out/work/<harness>/, findings in
# fuzz/out/artifacts/<harness>/ (emptied when that harness runs again),
# logs in fuzz/out/logs/.
set -eu

srcdir=$(cd "${2:-$(dirname "$0")/..}" && pwd)
builddir=$(cd "${1:-.}" && pwd)
mode=${3:-fuzz}
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-safetensors idx json raw range route config auth}
jobs=${FUZZ_JOBS:-1}
CLANG=${CLANG:-clang}
out=$builddir/fuzz/out
mkdir -p "$out/obj" "$out/logs"

die() {
    echo "fuzz: $*" >&2
    exit 1
}

if [ "$mode" = seeds ]; then
    # A plain build against the project's own core library: the seeds are
    # made by the code the daemon runs, sanitizers or not.
    lib=$builddir/core/.libs/liblgcore.a
    [ -f "$lib" ] || die "$lib is missing: run make first"
    ${CC:-cc} -std=c11 -D_GNU_SOURCE -O1 -I"$srcdir/core" "$srcdir/fuzz/make_seeds.c" "$lib" \
        $(pkg-config --cflags --libs openblas zlib) -fopenmp -lm -o "$out/make_seeds" || die "cannot build make_seeds"
    exec "$out/make_seeds" "$srcdir/fuzz/corpus"
fi

command -v "$CLANG" >/dev/null 2>&1 || die "$CLANG not found: install the Debian package clang (apt-get install clang)"
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' >"$out/probe.c"
"$CLANG" -fsanitize=fuzzer "$out/probe.c" -o "$out/probe" 2>"$out/probe.log" ||
    die "$CLANG cannot link -fsanitize=fuzzer (see $out/probe.log); Debian 12's clang-14 can"

# Instrumentation for the project's sources; the harness link adds libFuzzer's main.
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1 ${FUZZ_CFLAGS:-}"
pkgs="jansson libmicrohttpd sqlite3 libcrypto openblas zlib inih"
pkg_cflags=$(pkg-config --cflags $pkgs) || die "pkg-config: a library is missing (run ./bootstrap.sh)"
pkg_libs=$(pkg-config --libs $pkgs)
incs="-I$srcdir/core -I$srcdir/api -I$srcdir/storage -I$srcdir/daemon -I$srcdir/fuzz -I$builddir"
# clang 14 names target_clones functions NAME.ifunc, which callers in other
# files do not find: the fuzz build takes the baseline version only.
cflags="-std=c11 -D_GNU_SOURCE -fno-trapping-math -Dtarget_clones(...)=unused $incs $pkg_cflags"
[ -f "$builddir/autoconfig.h" ] || die "$builddir/autoconfig.h is missing: run ./configure (or ./bootstrap.sh) first"

# ---------------------------------------------------------------- build
# Every library source of the tree (core, storage, api) and daemon/config.c,
# recompiled when it or any header is newer than its object.
newest_header=$(ls -t "$srcdir"/core/*.h "$srcdir"/api/*.h "$srcdir"/storage/*.h "$srcdir"/daemon/*.h \
    "$builddir/autoconfig.h" | head -1)
# A change of compiler or flags rebuilds everything.
stamp="$CLANG $san $cflags"
if [ "$(cat "$out/flags" 2>/dev/null)" != "$stamp" ]; then
    rm -f "$out"/obj/*.o "$out/libproject.a" "$out"/fuzz_*
    printf '%s\n' "$stamp" >"$out/flags"
fi
srcs=$(ls "$srcdir"/core/*.c "$srcdir"/storage/*.c "$srcdir"/api/*.c "$srcdir/daemon/config.c")
stale=""
objs=""
for s in $srcs; do
    rel=${s#"$srcdir"/}
    o=$out/obj/$(echo "$rel" | tr / _ | sed 's/\.c$/.o/')
    objs="$objs $o"
    if [ ! -f "$o" ] || [ "$s" -nt "$o" ] || [ "$newest_header" -nt "$o" ]; then stale="$stale $s"; fi
done
if [ -n "$stale" ]; then
    echo "fuzz: compiling $(echo $stale | wc -w) sources with $CLANG"
    # shellcheck disable=SC2016
    printf '%s\n' $stale | xargs -P "$(nproc)" -n 1 sh -c '
        s=$6; rel=${s#"$1"/}; o=$2/obj/$(echo "$rel" | tr / _ | sed "s/\.c\$/.o/")
        $3 $4 -fsanitize=fuzzer-no-link $5 -Wno-unknown-pragmas -c "$s" -o "$o" || { echo "fuzz: cannot compile $s" >&2; exit 255; }
    ' sh "$srcdir" "$out" "$CLANG" "$san" "$cflags" || die "compilation failed"
    rm -f "$out/libproject.a"
fi
# a source added or removed: the archive is remade from the current list
srclist=$(echo $srcs)
if [ "$(cat "$out/srcs" 2>/dev/null)" != "$srclist" ]; then
    rm -f "$out/libproject.a"
    echo "$srclist" >"$out/srcs"
fi
if [ ! -f "$out/libproject.a" ]; then
    ar rcs "$out/libproject.a" $objs
fi

for t in $targets; do
    [ -f "$srcdir/fuzz/fuzz_$t.c" ] || die "no harness fuzz/fuzz_$t.c"
    bin=$out/fuzz_$t
    if [ ! -f "$bin" ] || [ "$srcdir/fuzz/fuzz_$t.c" -nt "$bin" ] || [ "$srcdir/fuzz/fuzz.h" -nt "$bin" ] ||
        [ "$out/libproject.a" -nt "$bin" ]; then
        "$CLANG" $san -fsanitize=fuzzer $cflags -Wall -Wextra -Werror "$srcdir/fuzz/fuzz_$t.c" "$out/libproject.a" \
            $pkg_libs -lm -lpthread -o "$bin" || die "cannot build fuzz_$t"
    fi
done

# ------------------------------------------------------------------ run
# One harness: fuzz (or replay) with the working corpus first (libFuzzer
# adds new inputs there), then the checked-in seeds and regressions.
run_one() {
    t=$1
    log=$out/logs/$t.log
    work=$out/work/$t
    art=$out/artifacts/$t
    mkdir -p "$work" "$art"
    rm -f "$art"/*
    dirs="$work $srcdir/fuzz/corpus/$t"
    [ -d "$srcdir/fuzz/regressions/$t" ] && dirs="$dirs $srcdir/fuzz/regressions/$t"
    if [ "$seconds" = 0 ]; then
        set -- -runs=0
    else
        set -- -max_total_time="$seconds"
    fi
    rc=0
    "$out/fuzz_$t" "$@" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art/" \
        ${FUZZ_FLAGS:-} $dirs >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -1 | sed 's/corp: //')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | sed 's/cov: //')
    found=$(ls "$art" | wc -l)
    verdict="no finding"
    [ "$rc" != 0 ] || [ "$found" != 0 ] && verdict="FINDING (rc $rc, $found inputs)"
    # one line per harness; CI counts the "no finding" ones
    printf 'fuzz: %-11s %4ss  execs %-9s exec/s %-6s cov %-5s corpus %-11s rss %sMB: %s\n' \
        "$t" "$seconds" "${execs:-?}" "${eps:-?}" "${cov:-?}" "${corp:-?}" "${rss:-?}" "$verdict"
    if [ "$rc" != 0 ] || [ "$found" != 0 ]; then
        echo "fuzz: $t FAILED; log $log, inputs in $art:" >&2
        ls "$art" >&2
        grep -m1 -A25 '^==[0-9]*==ERROR\|runtime error\|property broken\|^SUMMARY' "$log" >&2 || tail -30 "$log" >&2
        return 1
    fi
}

status=0
if [ "$jobs" -le 1 ]; then
    for t in $targets; do run_one "$t" || status=1; done
else
    pids=""
    for t in $targets; do
        run_one "$t" >"$out/logs/$t.summary" 2>&1 &
        pids="$pids $!"
        # at most $jobs at once
        while [ "$(jobs -p | wc -l)" -ge "$jobs" ]; do sleep 1; done
    done
    for p in $pids; do wait "$p" || status=1; done
    for t in $targets; do cat "$out/logs/$t.summary"; done
fi
[ "$status" = 0 ] && echo "fuzz: all of $(echo $targets | wc -w) harnesses clean"
exit $status
