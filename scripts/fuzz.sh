#!/usr/bin/env bash
# Runs every libFuzzer harness of tests/fuzz/ for N seconds each (default 5)
# on its checked-in seed corpus; new inputs go to BUILD/tests/fuzz/corpus/,
# crashes to BUILD/tests/fuzz/artifacts/. Exits non-zero on the first
# harness that finds a crash, leak, timeout or assertion failure.
#   scripts/fuzz.sh [SECONDS] [BUILD_DIR]     (docs/HARDENING.md)
# The build dir is configured here with clang and -DNEWSIDX_FUZZ=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
build=${2:-build-fuzz}
CC=clang cmake -S . -B "$build" -DNEWSIDX_FUZZ=ON -DNEWSIDX_TESTS=OFF \
    -DNEWSIDX_BENCH=OFF -DNEWSIDX_WERROR=ON >/dev/null
harnesses=$(cd tests/fuzz && ls -d fuzz_*/ | tr -d /)
targets=$(for h in $harnesses; do printf -- '--target %s ' "$h"; done)
# shellcheck disable=SC2086
cmake --build "$build" -j"$(nproc)" $targets
out="$build/tests/fuzz"
mkdir -p "$out/artifacts"
status=0
for h in $harnesses; do
    mkdir -p "$out/corpus/$h"
    log="$out/$h.log"
    # -rss_limit_mb: a harness must stay bounded; -timeout: one input > 10 s is a hang.
    if "$out/$h" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$out/artifacts/$h-" \
        "$out/corpus/$h" "tests/fuzz/$h" >"$log" 2>&1; then
        runs=$(grep -o 'number_of_executed_units: [0-9]*' "$log" | awk '{print $2}')
        echo "fuzz: $h ok, ${runs:-?} executions in ${secs}s"
    else
        echo "fuzz: $h FAILED (log $log):" >&2
        grep -E 'ERROR|SUMMARY|Assertion|#[0-9]+ 0x' "$log" | head -30 >&2
        status=1
    fi
done
exit $status
