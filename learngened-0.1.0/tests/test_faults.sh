#!/bin/sh
# tests/test_faults.sh - kill -9 the real daemon at random moments during
# uploads, downloads and fine-tune jobs, many times (tests/faults.py);
# LG_FAULT_ROUNDS (default 8) and LG_FAULT_SEED choose how many and where.
set -u
build=${LG_BUILDDIR:-.}
src=${LG_SRCDIR:-.}
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 77; }
tmp=$(mktemp -d)
if python3 "$src/tests/faults.py" "$build/daemon/learngened" "$src" "$tmp" "${LG_FAULT_ROUNDS:-8}"; then
    rm -rf "$tmp"
else
    echo "--- daemon log (kept in $tmp)"; tail -40 "$tmp/daemon.log"; exit 1
fi
