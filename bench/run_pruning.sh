#!/usr/bin/env bash
# bench/run_pruning.sh — ranked OR with block-max pruning against the same
# queries with pruning switched off (newsidx_search_options.no_pruning = 1,
# set by newsidx_bench from NEWSIDX_NO_PRUNING=1), TOP10 mode (k = 10,
# exact_total = 0), same index, same process settings, alternating runs.
#
#   bench/run_pruning.sh INDEX_DIR QUERIES [OUTDIR]
# QUERIES: any neutral query file; only its union lines (tag "union*" or
# "OR:" queries) are used. INDEX_DIR: made by `newsidx_bench index`.
# Environment: BENCH (default /work/main/build-bench/bench/newsidx_bench),
# REPS (default 7), WARMUP (default 2), ROUNDS (default 2: pruned, exhaustive,
# pruned, exhaustive ... so drift in machine load hits both alike).
# Prints per tag: mean µs pruned, mean µs exhaustive, speed-up; and checks
# that both return the same top-10 ids (pruning must not change results).
set -euo pipefail
IDX=$1 Q=$2 OUT=${3:-/tmp/newsidx-pruning}
BENCH=${BENCH:-/work/main/build-bench/bench/newsidx_bench}
REPS=${REPS:-7}
export WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-2}
mkdir -p "$OUT"
awk -F'\t' '/^#/ || NF == 0 { next }
    (NF > 1 && $1 ~ /^union/) || $NF ~ /^OR:/ { print }' "$Q" > "$OUT/union.tsv"
echo "union queries: $(wc -l < "$OUT/union.tsv")"
for r in $(seq 1 "$ROUNDS"); do
    NEWSIDX_NO_PRUNING=0 "$BENCH" search "$IDX" "$OUT/union.tsv" TOP10 "$REPS" "$OUT/pruned.$r.tsv" > "$OUT/pruned.$r.log"
    NEWSIDX_NO_PRUNING=1 "$BENCH" search "$IDX" "$OUT/union.tsv" TOP10 "$REPS" "$OUT/exhaustive.$r.tsv" > "$OUT/exhaustive.$r.log"
done
python3 - "$OUT" "$ROUNDS" <<'EOF'
import statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def lat(kind):
    # per query: the best (lowest) of the rounds' medians, per tag the mean
    per = {}
    for r in range(1, rounds + 1):
        for line in open(f"{out}/{kind}.{r}.tsv.lat"):
            tag, q, us = line.rstrip("\n").split("\t")
            per.setdefault((tag, q), []).append(float(us))
    by = {}
    for (tag, q), v in per.items():
        by.setdefault(tag, []).append(min(v))
        by.setdefault("all", []).append(min(v))
    return by
p, e = lat("pruned"), lat("exhaustive")
print(f"{'tag':<24} {'n':>4} {'pruned µs':>10} {'exhaustive µs':>14} {'speed-up':>9} {'median speed-up':>16}")
for tag in p:
    mp, me = statistics.mean(p[tag]), statistics.mean(e[tag])
    ratios = [b / a for a, b in zip(p[tag], e[tag]) if a > 0]
    print(f"{tag:<24} {len(p[tag]):>4} {mp:>10.1f} {me:>14.1f} {me / mp:>8.2f}x {statistics.median(ratios):>15.2f}x")
same = diff = 0
for a, b in zip(open(f"{out}/pruned.1.tsv"), open(f"{out}/exhaustive.1.tsv")):
    if a.split("\t")[2] == b.split("\t")[2]:
        same += 1
    else:
        diff += 1
print(f"top-10 ids identical with and without pruning: {same}/{same + diff}")
EOF
