#!/usr/bin/env bash
# bench/run_dups.sh — near-duplicate reprints (issue 12, "Near-duplicate
# reprints"): on a gen-articles archive of N articles with --dup-rate R,
#   1. the hash alone (bench/dups_bench): pairwise precision and recall of
#      the groups for shingles of K words and distances D, and the CPU time
#      of the hash per article;
#   2. end to end: `newsidx index`, then `newsidx dups --json`, scored
#      against the true groups;
#   3. ingest cost: `newsidx index` of the archive by BASE (a newsidx built
#      from the commit before the hash) and by this build, A B A B: CPU
#      seconds (user + sys) of each run;
#   4. query cost: the shared query log (TOP10, no snippets) with and
#      without --collapse, A B A B: the sum of the queries' took_us.
#   bench/run_dups.sh                (N=200000 R=0.05 OUT=/tmp/newsidx-dups)
# Environment: N, R, SEED (default 42), OUT, BUILD (a Release build dir
# with newsidx and bench/dups_bench), BASE (a baseline newsidx; step 3 is
# skipped without it), K (default 1,2,3), D (default 3,4,5), QUERIES (one
# query a line; default: every query of the shared log).
#
# The truth: which original each reprint copies, replayed from
# gen-articles' generator with SEED and R (bench/dups_bench.c; step 2 asks
# dups_bench for it with --truth). Pairwise measures: precision = true pairs among the pairs put in one
# group; recall = pairs put together among the true pairs.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
SHARED=${SHARED:-$(cd "$SRC/../shared" && pwd)}
BUILD=${BUILD:-$SRC/build}
OUT=${OUT:-/tmp/newsidx-dups}
N=${N:-200000}
R=${R:-0.05}
SEED=${SEED:-42}
K=${K:-1,2,3}
D=${D:-3,4,5}
NX=$BUILD/newsidx
mkdir -p "$OUT"
if [ ! -x /tmp/gen-articles ]; then make -s -C "$SHARED/tools/gen-articles" OUT=/tmp/gen-articles; fi
GEN=$OUT/gen-$N-$R-$SEED.jsonl
[ -f "$GEN" ] || /tmp/gen-articles -n "$N" -s "$SEED" --dup-rate "$R" -o "$GEN" -q "$SHARED"/corpora/*.jsonl.zst
echo "# run_dups.sh $(date -u +%FT%TZ), library $(git -C "$SRC" rev-parse --short HEAD), N=$N R=$R SEED=$SEED"

echo "## 1. the hash alone (dups_bench)"
"$BUILD/bench/dups_bench" -k "$K" -d "$D" -s "$SEED" -r "$R" < "$GEN"

echo "## 2. end to end: newsidx index, newsidx dups --json"
rm -rf "$OUT/idx"
"$NX" index -q -o "$OUT/idx" "$GEN"
"$BUILD/bench/dups_bench" --truth -s "$SEED" -r "$R" < "$GEN" > "$OUT/truth.txt"
for d in ${D//,/ }; do
    /usr/bin/time -f "dups_seconds %e" "$NX" dups "$OUT/idx" --json --max-distance "$d" > "$OUT/dups-$d.json"
    python3 - "$OUT/truth.txt" "$OUT/dups-$d.json" "$d" <<'PY'
import json, sys, collections
truth = dict(l.split() for l in open(sys.argv[1]))
sizes = collections.Counter(truth.values())
true_pairs = sum(n * (n - 1) // 2 for n in sizes.values())
found = good = 0
for g in json.load(open(sys.argv[2]))["groups"]:
    ids = [m["id"] for m in g]
    found += len(ids) * (len(ids) - 1) // 2
    c = collections.Counter(truth[i] for i in ids)
    good += sum(n * (n - 1) // 2 for n in c.values())
print(f"d {sys.argv[3]} groups_found_pairs {found} true_pairs {true_pairs} "
      f"precision {good / found if found else 1:.4f} recall {good / true_pairs if true_pairs else 1:.4f}")
PY
done

cpu() { /usr/bin/time -f "%U %S" "$@" 2>&1 >/dev/null | tail -1 | awk '{print $1 + $2}'; }
if [ -n "${BASE:-}" ]; then
    echo "## 3. ingest: CPU seconds of newsidx index, base (no hash) and this build, A B x3"
    for run in 1 2 3; do
        for who in base new; do
            bin=$NX; [ $who = base ] && bin=$BASE
            rm -rf "$OUT/idx-$who"
            echo "index_cpu_s $who $(cpu "$bin" index -q -o "$OUT/idx-$who" "$GEN")"
        done
    done
fi

echo "## 4. query: TOP10 over the query log without and with --collapse, A B x5;"
echo "##    per query the fastest of its 5 runs (took_us), summed"
queries=${QUERIES:-$OUT/queries.txt}
if [ -z "${QUERIES:-}" ]; then
    python3 -c 'import json,sys
for l in open(sys.argv[1]): print(json.loads(l)["query"])' \
        "$SHARED/queries/search-benchmark-game-queries.txt" > "$queries"
fi
"$NX" search "$OUT/idx" --queries "$queries" -n 10 --snippets 0 --fields '' > /dev/null # warm the cache
for run in 1 2 3 4 5; do
    for mode in plain collapse; do
        flag=; [ $mode = collapse ] && flag=--collapse
        "$NX" search "$OUT/idx" --queries "$queries" -n 10 --snippets 0 --fields '' $flag > "$OUT/q-$mode-$run.jsonl"
    done
done
python3 - "$OUT" <<'PY'
import json, sys, glob
for mode in ("plain", "collapse"):
    best = {}
    hidden = 0
    for f in sorted(glob.glob(f"{sys.argv[1]}/q-{mode}-*.jsonl")):
        for i, l in enumerate(open(f)):
            o = json.loads(l)
            if "took_us" not in o: continue
            best[i] = min(best.get(i, float("inf")), o["took_us"])
            if f.endswith("-1.jsonl"): hidden += sum(h.get("similar", 0) for h in o["hits"])
    print(f"query_took_us_sum_of_min {mode} {sum(best.values()):.0f} queries {len(best)} hidden {hidden}")
PY
