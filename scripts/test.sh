#!/usr/bin/env bash
# Builds and runs the whole test suite: once as a Release build, once as a
# Debug build under AddressSanitizer + UndefinedBehaviorSanitizer. Warnings
# are errors in both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/deps.sh
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DNEWSIDX_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")
cmake -S . -B build-asan -DNEWSIDX_SANITIZE=ON -DNEWSIDX_WERROR=ON -DNEWSIDX_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j"$jobs")
# Hardening (docs/HARDENING.md): every libFuzzer harness for a few seconds
# on its seed corpus (clang build in build-fuzz/), then every suite under
# valgrind memcheck (build-valgrind/, NEWSIDX_TEST_SMALL=1).
bash scripts/fuzz.sh "${NEWSIDX_FUZZ_SECONDS:-5}"
bash scripts/valgrind.sh
