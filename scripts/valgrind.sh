#!/usr/bin/env bash
# Runs every Check suite under valgrind memcheck (docs/HARDENING.md,
# "Memory hygiene"): a RelWithDebInfo build without sanitizers in
# build-valgrind/, each suite under
#   valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect
#            --error-exitcode=1
# with CK_FORK=no (Check's forked children would each need valgrind's
# attention; one process per suite keeps the run short and the reports
# whole) and NEWSIDX_TEST_SMALL=1 (suites that honour it shrink their
# loops: test_search, test_corrupt) and NEWSIDX_TEST_SLOWDOWN=5 (test_crash
# waits longer before each kill: a child under valgrind that never reached
# a commit in 400 ms failed it), and --fair-sched=yes: valgrind runs one
# thread at a time, and its default lock lets the thread that gives it up
# take it straight back, so a test thread polling with sched_yield() can
# be starved for a whole phase of another thread (test_docstore's
# "says it would wait while another trains" never saw the training, 1 run
# in 3, and failed a CI run). Exits non-zero if any suite fails or
# valgrind reports an error or a leak.
#   scripts/valgrind.sh [SUITE...]      (default: every tests/test_*.c but
#                                        those in VALGRIND_SKIP)
# VALGRIND_SKIP (default "test_search test_living test_crash test_crafted
# test_trust"): suites left to the ASan+UBSan run by default, to keep CI
# (.ci/run) within its time: test_search alone took 13 min under valgrind
# (its reference matcher over thousands of queries) and test_crafted runs
# every query class over 1,356 damaged indexes; test_living, test_crash and
# test_trust fork writers that are killed, or mount a small tmpfs, at
# moments that valgrind's 20-50x slowdown moves. `scripts/valgrind.sh test_search`
# (or VALGRIND_SKIP= ) runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${VALGRIND_BUILD_DIR:-build-valgrind}
case $build in /*) ;; *) build=$root/$build ;; esac # the suites run in $build/tests
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNEWSIDX_WERROR=ON \
    -DNEWSIDX_BENCH=OFF >/dev/null
skip=" ${VALGRIND_SKIP-test_search test_living test_crash test_crafted test_trust} "
if [ $# -gt 0 ]; then suites="$*"; else
    suites=$(cd tests && ls test_*.c | sed 's/\.c$//')
    kept=""
    for s in $suites; do
        case "$skip" in *" $s "*) echo "valgrind: $s left to ASan+UBSan (VALGRIND_SKIP)" ;; *) kept="$kept $s" ;; esac
    done
    suites=$kept
fi
targets=$(for s in $suites; do printf -- '--target %s ' "$s"; done)
# shellcheck disable=SC2086
cmake --build "$build" -j"$(nproc)" --target newsidx_cli $targets
mkdir -p "$build/valgrind"
status=0
for s in $suites; do
    log="$build/valgrind/$s.log"
    start=$(date +%s)
    if (cd "$build/tests" && CK_FORK=no NEWSIDX_TEST_SMALL=1 NEWSIDX_TEST_SLOWDOWN=5 CK_DEFAULT_TIMEOUT=3600 \
        valgrind --quiet --fair-sched=yes --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --show-leak-kinds=definite,indirect --error-exitcode=99 \
        --suppressions="$root/scripts/valgrind.supp" \
        "./$s" >"$log" 2>&1); then
        echo "valgrind: $s clean ($(( $(date +%s) - start )) s)"
    else
        echo "valgrind: $s FAILED ($(( $(date +%s) - start )) s, log $log):" >&2
        grep -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|.*definitely|.*indirectly|  (at|by) )|[0-9]+%: Checks|:F:|:E:' "$log" | head -40 >&2
        status=1
    fi
done
exit $status
