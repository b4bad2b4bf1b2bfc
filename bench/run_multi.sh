#!/usr/bin/env bash
# bench/run_multi.sh — search latency of several indexes opened as one
# (newsidx_reader_open_multi) against one index of the same articles
# (issue 10: "Multi-index search over 10 one-year indexes vs one index of
# the same articles: latency per class <= 1.5x the single index").
#
#   bench/run_multi.sh [CORPUS]        (default /tmp/gen1m.jsonl.zst)
#
# Steps, each skipped when its output is already there (REBUILD=1 redoes
# the split and the indexes):
#  1. split: the corpus (its first LIMIT articles when LIMIT is set) into
#     PARTS files of equal date ranges, between the earliest and the latest
#     `date` of the corpus (articles without a parsable date go to the last
#     part); gen-articles dates are uniform over 1990-2026, so 10 parts are
#     ~3.7 years each, ~LIMIT/10 articles each;
#  2. index: `newsidx index` with the CLI's defaults, once over the whole
#     corpus (single/) and once per part (part-NN/), each under
#     /usr/bin/time (wall, CPU, peak RSS into OUT/index-times.txt);
#  3. queries: ../shared/tools/peers/make_queries.py on the same articles
#     (50 per class, --seed 1: term, intersection, union, phrase) and, when
#     SBG=1 (default), the search-benchmark-game queries converted by
#     convert_queries.py (300 intersection, union and phrase queries);
#  4. `newsidx_bench multi` per query file and mode (TOP10, COUNT): both
#     readers open in one process, every query run on each, the order
#     alternating query by query and pass by pass, so that load from the
#     other users of the machine falls on both alike (bench/README.md,
#     "Multi-index search"). RUNS (default 2) repeats the whole step.
#     OUT/multi.QUERIES.MODE.runN.log holds the output, .lat the median
#     latency of each query on both sides.
# Environment:
#   OUT     work directory (default /tmp/newsidx-multi)
#   BUILD   newsidx build directory (default ./build-bench of this tree)
#   PARTS   number of indexes in the set (default 10)
#   LIMIT   use only the first LIMIT articles (default: all)
#   REPS    passes over each query file (default 8), WARMUP untimed (2)
#   INDEX_FLAGS  extra `newsidx index` flags for every index (default none)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
SHARED=${SHARED:-$(cd "$SRC/../shared" && pwd)}
PEERS=$SHARED/tools/peers
CORPUS=${1:-/tmp/gen1m.jsonl.zst}
OUT=${OUT:-/tmp/newsidx-multi}
BUILD=${BUILD:-$SRC/build-bench}
PARTS=${PARTS:-10}
REPS=${REPS:-8}
export WARMUP=${WARMUP:-2}
RUNS=${RUNS:-2}

cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DNEWSIDX_TESTS=OFF > /dev/null
cmake --build "$BUILD" -j2 --target newsidx_cli newsidx_bench > /dev/null
NX=$BUILD/newsidx
NB=$BUILD/bench/newsidx_bench
mkdir -p "$OUT"
[ "${REBUILD:-0}" = 1 ] && rm -rf "$OUT/parts" "$OUT/index" "$OUT/all.jsonl" "$OUT/index-times.txt"

# 1. the articles, then the split by date range
if [ ! -s "$OUT/all.jsonl" ]; then
    case $CORPUS in
        *.zst) dec=(zstd -dc -- "$CORPUS") ;;
        *.gz)  dec=(gzip -dc -- "$CORPUS") ;;
        *)     dec=(cat -- "$CORPUS") ;;
    esac
    if [ -n "${LIMIT:-}" ]; then
        "${dec[@]}" | head -n "$LIMIT" > "$OUT/all.jsonl.tmp" || true
    else
        "${dec[@]}" > "$OUT/all.jsonl.tmp"
    fi
    mv "$OUT/all.jsonl.tmp" "$OUT/all.jsonl"
fi
if [ ! -s "$OUT/parts/split.txt" ]; then
    rm -rf "$OUT/parts"
    mkdir -p "$OUT/parts"
    python3 - "$OUT/all.jsonl" "$OUT/parts" "$PARTS" > "$OUT/parts/split.txt.tmp" <<'EOF'
# Two passes: the date range first, then each line to the part of its date.
# Only the "date" member is looked at (a regex, not a JSON parse: ~10x
# faster on 1.4 GB); the newsidx date parser's ISO forms are what
# gen-articles writes ("YYYY-MM-DDTHH:MM:SSZ").
import calendar, re, sys, time
src, outdir, nparts = sys.argv[1], sys.argv[2], int(sys.argv[3])
DATE = re.compile(rb'"date"\s*:\s*"(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d))?)?')
def secs(line):
    m = DATE.search(line)
    if not m:
        return None
    y, mo, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    try:
        return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    except (ValueError, OverflowError):
        return None
lo = hi = None
with open(src, 'rb') as f:
    for line in f:
        t = secs(line)
        if t is not None:
            lo = t if lo is None or t < lo else lo
            hi = t if hi is None or t > hi else hi
if lo is None:
    sys.exit("no dated article in " + src)
span = hi - lo + 1
outs = [open(f"{outdir}/part-{i:02d}.jsonl", 'wb') for i in range(nparts)]
counts = [0] * nparts
undated = 0
with open(src, 'rb') as f:
    for line in f:
        if not line.strip():
            continue
        t = secs(line)
        if t is None:
            undated += 1
            i = nparts - 1
        else:
            i = min(nparts - 1, (t - lo) * nparts // span)
        outs[i].write(line)
        counts[i] += 1
for o in outs:
    o.close()
day = lambda t: time.strftime('%Y-%m-%d', time.gmtime(t))
for i in range(nparts):
    a, b = lo + span * i // nparts, lo + span * (i + 1) // nparts - 1
    print(f"part-{i:02d} {day(a)}..{day(b)} articles={counts[i]}")
print(f"undated={undated} (in part-{nparts - 1:02d}) total={sum(counts)}")
EOF
    mv "$OUT/parts/split.txt.tmp" "$OUT/parts/split.txt"
fi
cat "$OUT/parts/split.txt"

# 2. the indexes, with the CLI's defaults (plus INDEX_FLAGS)
index_one() { # NAME INPUT...
    local name=$1
    shift
    [ -f "$OUT/index/$name/.done" ] && return 0
    rm -rf "$OUT/index/$name"
    mkdir -p "$OUT/index"
    local rc=0
    # shellcheck disable=SC2086
    /usr/bin/time -o "$OUT/index/$name.time" -f "%e %U %S %M" \
        "$NX" index --quiet -o "$OUT/index/$name" ${INDEX_FLAGS:-} "$@" || rc=$?
    [ "$rc" = 0 ] || [ "$rc" = 3 ] || { echo "newsidx index $name failed ($rc)" >&2; exit 1; }
    read -r wall user sys rss < "$OUT/index/$name.time"
    echo "BUILD index=$name wall_s=$wall user_s=$user sys_s=$sys peak_rss_MB=$((rss / 1024)) bytes=$(du -sb "$OUT/index/$name" | cut -f1)" \
        >> "$OUT/index-times.txt"
    touch "$OUT/index/$name/.done"
}
index_one single "$OUT/all.jsonl"
dirs=()
for ((i = 0; i < PARTS; i++)); do
    p=$(printf 'part-%02d' "$i")
    index_one "$p" "$OUT/parts/$p.jsonl"
    dirs+=("$OUT/index/$p")
done
cat "$OUT/index-times.txt"
for d in single "${dirs[@]##*/}"; do
    "$NX" stats "$OUT/index/$d" --json > "$OUT/index/$d.stats.json"
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print("STATS index=%s docs=%d segments=%d" % (sys.argv[2], s["docs"], s["segments"]))' \
        "$OUT/index/$d.stats.json" "$d"
done

# 3. queries
[ -s "$OUT/q-gen.tsv" ] || python3 "$PEERS/make_queries.py" "$OUT/all.jsonl" 50 --seed 1 > "$OUT/q-gen.tsv"
qfiles=("$OUT/q-gen.tsv")
if [ "${SBG:-1}" = 1 ]; then
    [ -s "$OUT/q-sbg.tsv" ] || python3 "$PEERS/convert_queries.py" \
        "$SHARED/queries/search-benchmark-game-queries.txt" > "$OUT/q-sbg.tsv"
    qfiles+=("$OUT/q-sbg.tsv")
fi

# 4. single vs multi, interleaved in one process
for ((run = 1; run <= RUNS; run++)); do
    for q in "${qfiles[@]}"; do
        for mode in TOP10 COUNT; do
            log=$OUT/multi.$(basename "$q" .tsv).$mode.run$run.log
            echo "== run $run: $(basename "$q") $mode (reps=$REPS, warm-up $WARMUP)"
            rc=0
            NEWSIDX_MULTI_LAT=$log.lat "$NB" multi "$q" "$mode" "$REPS" "$OUT/index/single" "${dirs[@]}" \
                > "$log" 2> "$log.err" || rc=$?
            grep -E '^(OPEN|MULTI|CHECK|#)' "$log" || true
            # exit 1: some query's results differ between the two readers
            # (the first five are in the .err file); the timings still stand
            [ "$rc" = 0 ] || { echo "newsidx_bench multi exited $rc:"; head -n 5 "$log.err"; }
            [ "$rc" = 0 ] || [ "$rc" = 1 ] || exit 1
        done
    done
done

# 5. one markdown table of every run: p50 and p99 per class, single / multi
python3 - "$OUT"/multi.*.log <<'PY'
import re, sys
print("| queries | mode | run | class | n | p50 µs single / multi | ratio | p99 µs single / multi | ratio | p99q ratio |")
print("| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for path in sorted(sys.argv[1:]):
    m = re.search(r"multi\.(.+)\.(TOP10|COUNT)\.run(\d+)\.log$", path)
    if not m:
        continue
    for line in open(path):
        if not line.startswith("MULTI "):
            continue
        v = dict(re.findall(r"(\w+)=(\S+)", line))
        f = lambda k: float(v[k])
        print(f"| {m[1]} | {m[2]} | {m[3]} | {v['tag']} | {v['n']} "
              f"| {f('single_p50_us'):.0f} / {f('multi_p50_us'):.0f} | {f('ratio_p50'):.2f} "
              f"| {f('single_p99_us'):.0f} / {f('multi_p99_us'):.0f} | {f('ratio_p99'):.2f} | {f('ratio_p99q'):.2f} |")
PY
