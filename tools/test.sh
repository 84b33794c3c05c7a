#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kura's full test run (what CI runs): deps, three builds, three test passes.
#  1. gcc Release-ish build with -Werror: every CTest test (unit, integration,
#     conformance).
#  2. gcc ASan+UBSan build: every CTest test again (unit, integration, the
#     full conformance gate) with the sanitizers in the daemon and clients.
#  3. clang build with libFuzzer (-DKURA_FUZZ=ON): the fuzz harnesses, each for
#     KURA_FUZZ_SECONDS (default 40 s), two at a time; executions per harness
#     printed at the end (tests/fuzz/fuzz_stats.sh).
# Whole run budget: well under 90 minutes on 2 cores (docs/testing.md).
# Env: KURA_TEST_PASSES="gcc asan fuzz" to choose passes; KURA_FUZZ_SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
JOBS=$(nproc 2>/dev/null || echo 2)
PASSES=${KURA_TEST_PASSES:-"gcc asan fuzz"}
FUZZ_SECONDS=${KURA_FUZZ_SECONDS:-40}
OUT=${KURA_TEST_OUT:-$SRC/build-ci}
T0=$(date +%s)

stamp() { echo "=== [$(( $(date +%s) - T0 ))s] $*"; }

stamp "install dependencies"
./scripts/install-deps.sh

rc=0
for pass in $PASSES; do
  case $pass in
  gcc)
    stamp "gcc build (-DKURA_WERROR=ON)"
    CC=gcc cmake -S . -B "$OUT/gcc" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKURA_WERROR=ON >/dev/null
    cmake --build "$OUT/gcc" -j"$JOBS"
    stamp "gcc: ctest"
    (cd "$OUT/gcc" && ctest --output-on-failure -j"$JOBS" --timeout 2400) || rc=1
    ;;
  asan)
    stamp "ASan+UBSan build"
    CC=gcc cmake -S . -B "$OUT/asan" -DCMAKE_BUILD_TYPE=Debug -DKURA_WERROR=ON -DKURA_SANITIZE=ON >/dev/null
    cmake --build "$OUT/asan" -j"$JOBS"
    stamp "asan: ctest"
    (cd "$OUT/asan" && \
      ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --output-on-failure -j"$JOBS" --timeout 2400) || rc=1
    ;;
  fuzz)
    stamp "clang libFuzzer build (-DKURA_FUZZ=ON, -Werror)"
    CC=clang cmake -S . -B "$OUT/fuzz" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKURA_FUZZ=ON \
      -DKURA_WERROR=ON -DKURA_FUZZ_SECONDS="$FUZZ_SECONDS" >/dev/null
    cmake --build "$OUT/fuzz" -j"$JOBS"
    stamp "fuzz: ctest -L fuzz (${FUZZ_SECONDS}s each)"
    if (cd "$OUT/fuzz" && ctest -N -L fuzz | grep -q 'Total Tests: [1-9]'); then
      if ! (cd "$OUT/fuzz" && ctest -V -L fuzz -j"$JOBS" >fuzz.log 2>&1); then
        rc=1
        grep -E 'Failed|ERROR|SUMMARY|artifact|#[0-9]+ 0x' "$OUT/fuzz/fuzz.log" | tail -80
      fi
      bash tests/fuzz/fuzz_stats.sh <"$OUT/fuzz/fuzz.log"
    else
      echo "fuzz: no fuzz harnesses built (tests/fuzz/fuzz_*.c); nothing to run"
    fi
    ;;
  *) echo "unknown pass $pass"; exit 2 ;;
  esac
done
stamp "done, rc=$rc"
exit $rc
