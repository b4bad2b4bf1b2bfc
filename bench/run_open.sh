#!/usr/bin/env bash
# bench/run_open.sh — what one `newsidx search` costs on an index: the
# reader's open time (open_bench, in-process, fresh reader each run) and
# the CLI's wall time per run, process start included, plus its task-clock.
#
#   bench/run_open.sh INDEX_DIR [QUERY]
# Environment: BUILD (default build: the build directory holding newsidx
# and bench/open_bench), RUNS (default 20).
# Prints the open_bench medians, then the median and minimum wall time of
# RUNS runs of `newsidx search INDEX_DIR QUERY` (output to /dev/null), then
# `perf stat -r RUNS` of the same command (task-clock, page faults) when
# perf is installed. The machine is shared: compare builds A, B, A again
# within one run of this script on each, not across hours.
set -euo pipefail
IDX=$1 Q=${2:-president}
BUILD=${BUILD:-build}
RUNS=${RUNS:-20}
"$BUILD/bench/open_bench" "$IDX" "$Q" "$RUNS"
"$BUILD/newsidx" search "$IDX" "$Q" > /dev/null # warm the page cache
times=()
for ((i = 0; i < RUNS; i++)); do
    t0=$(date +%s%N)
    "$BUILD/newsidx" search "$IDX" "$Q" > /dev/null
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000 )))
done
printf '%s\n' "${times[@]}" | sort -n | awk -v runs="$RUNS" '
    { v[NR] = $1 }
    END { printf "newsidx search wall          median %8.3f ms   min %8.3f ms  (%d runs)\n",
                 v[int(runs / 2) + 1] / 1000, v[1] / 1000, runs }'
if command -v perf > /dev/null; then
    perf stat -r "$RUNS" -e task-clock,page-faults "$BUILD/newsidx" search "$IDX" "$Q" 2>&1 > /dev/null |
        grep -E 'task-clock|page-faults|elapsed'
fi
