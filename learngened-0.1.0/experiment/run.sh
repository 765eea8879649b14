#!/bin/sh
# experiment/run.sh BUILDDIR OUTDIR [--quick] - runs the SPEC §7 experiment
# (experiment/experiment) and turns its CSV into the table and plot that
# docs/results.md shows. The full run takes about an hour on 2 cores.
set -eu
build=$1 out=$2
shift 2
"$build/experiment/experiment" "$out" "$@"
/usr/bin/python3 "$(dirname "$0")/plot.py" "$out"
