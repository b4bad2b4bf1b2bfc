#!/usr/bin/env bash
# bench/run_living.sh — what a living archive costs (issue "Living archives"):
# on a generated archive of N articles (default 1,000,000) built with
# `newsidx index` and its defaults,
#   1. the rebuild from scratch: wall time and index bytes;
#   2. adding 10,000 new articles to a copy and committing (living_bench add):
#      wall time and bytes written, then a reader's refresh to that commit;
#   3. search latency (p50/p99 over a query file) idle, and while another
#      thread optimizes (merges) the index;
#   4. deleting ~10% by a date query and committing, then optimizing: times
#      and bytes reclaimed.
#   bench/run_living.sh            (OUT=/tmp/newsidx-living, BUILD=build)
# Environment: OUT, BUILD (a Release build dir with newsidx and
# bench/living_bench), GEN (the archive; made with ../shared/tools/gen-articles
# when missing), QUERIES (one query a line; default: the first 500 of the
# shared query log), DELETE_QUERY (default date:..1993-08-31, about 10% of
# gen-articles' uniform 1990-2026 dates).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
SHARED=${SHARED:-$(cd "$SRC/../shared" && pwd)}
BUILD=${BUILD:-$SRC/build}
OUT=${OUT:-/tmp/newsidx-living}
N=${N:-1000000}
GEN=${GEN:-/tmp/gen$((N / 1000))k.jsonl.zst}
DELETE_QUERY=${DELETE_QUERY:-date:..1993-08-31}
NX=$BUILD/newsidx
LB=$BUILD/bench/living_bench
mkdir -p "$OUT"
if [ ! -x /tmp/gen-articles ]; then make -s -C "$SHARED/tools/gen-articles" OUT=/tmp/gen-articles; fi
[ -f "$GEN" ] || /tmp/gen-articles -n "$N" -s 42 -o "$GEN" -q "$SHARED"/corpora/*.jsonl.zst
adds=$OUT/adds.jsonl
/tmp/gen-articles -n 10000 -s 4242 -q "$SHARED"/corpora/*.jsonl.zst | sed 's/"id":"gen-/"id":"add-/' > "$adds"
queries=${QUERIES:-$OUT/queries.txt}
if [ -z "${QUERIES:-}" ]; then
    python3 -c 'import json,sys
for i, l in enumerate(open(sys.argv[1])):
    if i >= 500: break
    print(json.loads(l)["query"])' "$SHARED/queries/search-benchmark-game-queries.txt" > "$queries"
fi
say() { printf '%s\n' "$*" | tee -a "$OUT/summary.txt"; }
: > "$OUT/summary.txt"
say "# run_living.sh $(date -u +%FT%TZ), library $(git -C "$SRC" rev-parse --short HEAD), N=$N"

rm -rf "$OUT/base"
/usr/bin/time -f '%e %M' -o "$OUT/rebuild.time" "$NX" index -o "$OUT/base" "$GEN" 2> "$OUT/rebuild.err" || true
read -r wall rss < "$OUT/rebuild.time"
say "rebuild_wall $wall s"
say "rebuild_peak_rss $((rss / 1024)) MB"
say "rebuild_index_bytes $(du -sb "$OUT/base" | cut -f1) bytes"

rm -rf "$OUT/work"; cp -r "$OUT/base" "$OUT/work"
sync
"$LB" add "$OUT/work" "$adds" | tee -a "$OUT/summary.txt"
"$LB" latency "$OUT/work" "$queries" | tee -a "$OUT/summary.txt"
"$LB" latency "$OUT/work" "$queries" merge | tee -a "$OUT/summary.txt"

rm -rf "$OUT/del"; cp -r "$OUT/base" "$OUT/del"
sync
"$LB" delete "$OUT/del" "$DELETE_QUERY" | tee -a "$OUT/summary.txt"
say "# add time / rebuild time: $(awk '/^add_commit_wall/ {a=$2} /^rebuild_wall/ {r=$2} END {printf "%.4f", a / r}' "$OUT/summary.txt")"
say "# p99 during merge / idle: $(awk '/^latency_idle_p99/ {i=$2} /^latency_merge_p99/ {m=$2} END {printf "%.2f", m / i}' "$OUT/summary.txt")"
