#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Per-harness libFuzzer figures from `ctest -V -L fuzz` output on stdin: one
# line per harness with its total executions, the seconds it ran and the
# executions per second (libFuzzer's closing "Done N runs in S second(s)").
#   (cd build-fuzz && ctest -V -L fuzz -j2) | bash tests/fuzz/fuzz_stats.sh
awk '
  / Test command: / { n = $1; sub(/:$/, "", n); if (match($0, /\.\/fuzz_[a-z0-9_]+/)) name[n] = substr($0, RSTART + 2, RLENGTH - 2) }
  /: Done [0-9]+ runs in [0-9]+ second/ {
    n = $1; sub(/:$/, "", n)
    for (i = 1; i <= NF; i++) if ($i == "Done") { runs = $(i + 1); secs = $(i + 4) }
    printf "%-14s %12d execs %5d s %9d exec/s\n", name[n], runs, secs, secs ? runs / secs : runs
  }'
