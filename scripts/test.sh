#!/usr/bin/env bash
# Builds and runs the test suites.
#
#   scripts/test.sh          the everyday run (5-6 minutes on 2 cores):
#                            every suite as a Release build, then as a Debug
#                            build under AddressSanitizer + UBSan, with
#                            NEWSIDX_TEST_SMALL=1 (the long loops shortened;
#                            every test still runs). Warnings are errors.
#   scripts/test.sh --full   what CI runs (.ci/run, about 40 minutes): the same
#                            two builds at full size, then every libFuzzer
#                            harness for NEWSIDX_FUZZ_SECONDS (5) each
#                            (scripts/fuzz.sh) and every suite under valgrind
#                            (scripts/valgrind.sh).
#
# Without ../shared (a fresh clone) the tests that need the real corpora
# print "SKIP (…/corpora not found)" and the rest run on tests/data and on
# generated articles; NEWSIDX_SHARED_DIR points elsewhere. One suite or one
# test while developing: tests/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

full=0
case "${1:-}" in
"") ;;
--full) full=1 ;;
*)
    echo "usage: scripts/test.sh [--full]" >&2
    exit 2
    ;;
esac

bash .ci/deps.sh
jobs=$(nproc)
start=$(date +%s)
phase() { echo "== $1 ($(( $(date +%s) - start )) s so far)"; }

if [ $full = 1 ]; then
    unset NEWSIDX_TEST_SMALL
else
    export NEWSIDX_TEST_SMALL=1
fi

# ctest shows a passing test's output only with -V: list what was skipped
# for want of ../shared (the lines of ctest shared_skip, which makes its
# own missing folder on purpose, excepted).
show_skips() {
    local skips
    skips=$(grep -h '^SKIP (' "$1/Testing/Temporary/LastTest.log" | grep -v '/no-shared/' | sort -u || true)
    if [ -n "$skips" ]; then
        echo "-- skipped in $1 (NEWSIDX_SHARED_DIR or ../shared would run them):"
        echo "$skips"
    fi
}

phase "Release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DNEWSIDX_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
phase "Release tests"
(cd build && ctest --output-on-failure -j"$jobs")
show_skips build

phase "ASan+UBSan build"
cmake -S . -B build-asan -DNEWSIDX_SANITIZE=ON -DNEWSIDX_WERROR=ON -DNEWSIDX_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs"
phase "ASan+UBSan tests"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j"$jobs")
show_skips build-asan

if [ $full = 1 ]; then
    # Hardening (docs/HARDENING.md): every libFuzzer harness for a few
    # seconds on its seed corpus (clang build in build-fuzz/), then every
    # suite under valgrind memcheck (build-valgrind/, NEWSIDX_TEST_SMALL=1).
    phase "fuzzing"
    bash scripts/fuzz.sh "${NEWSIDX_FUZZ_SECONDS:-5}"
    phase "valgrind"
    bash scripts/valgrind.sh
fi
phase "all passed"
