#!/usr/bin/env bash
# bench/run_compare.sh — libnewsidx side by side with SQLite FTS5, Xapian and
# Lucene (../shared/tools/peers), one run per corpus, same index model and
# queries for every engine.  See bench/README.md for what is measured.
#
#   bench/run_compare.sh [NAME...]        NAME: reuters21578 20newsgroups bbc
#                                         (default: all three), or gen100k,
#                                         gen200k, gen1m (generated archives)
# Environment:
#   OUT       output root (default /tmp/newsidx-compare); OUT/NAME/ is the
#             run_peers.sh directory, OUT/q-NAME.tsv the queries
#   BUILD     newsidx build directory (default ./build-bench of this tree)
#   ENGINES   default "fts5 xapian lucene newsidx=$BUILD/bench/newsidx_bench"
#   REPS, WARMUP   as run_peers.sh (defaults 15 and 10)
#   SAVE=1    copy OUT/NAME/summary.txt and the target tables to bench/results/
#   PEERS_STORE=1  every engine stores the text (run_peers.sh passes it on):
#             ours is then the product (newsidx_bench.c, "Stored model"), and
#             after the peers `newsidx index` itself runs on the same
#             OUT/NAME/corpus.jsonl (bench/run_product.sh): its PRODUCT line
#             goes to OUT/NAME/product.txt, beside the summary, and
#             targets.py checks the stored targets of issue 10 (CLI=0 leaves
#             the CLI's run out)
#   CPU=0     do not wrap the engines in /usr/bin/time (by default every
#             `index` step is run under it and OUT/NAME/cpu.txt gets one line
#             per engine with user/sys CPU seconds and peak RSS: on this
#             shared 2-core VM wall time is noisy, CPU time much less so)
# Generated archives come from ../shared/tools/gen-articles (seed 42, built
# into /tmp): gen1m = 1,000,000 articles, genNk = its first N thousand lines.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
SHARED=${SHARED:-$(cd "$SRC/../shared" && pwd)}
PEERS=$SHARED/tools/peers
OUT=${OUT:-/tmp/newsidx-compare}
BUILD=${BUILD:-$SRC/build-bench}
export REPS=${REPS:-15} WARMUP=${WARMUP:-10}
ENGINES=${ENGINES:-fts5 xapian lucene newsidx=$BUILD/bench/newsidx_bench}
PEERS_BUILD=${PEERS_BUILD:-/tmp/newsidx-peers-build}
export PEERS_BUILD
NAMES=${*:-reuters21578 20newsgroups bbc}

cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DNEWSIDX_TESTS=OFF > /dev/null
cmake --build "$BUILD" -j2 --target newsidx_bench newsidx_cli > /dev/null
mkdir -p "$OUT"

gen_archive() { # NAME -> path of its JSONL (made once)
    local name=$1 gen=/tmp/gen-articles g1m=/tmp/gen1m.jsonl.zst
    if [ ! -f "$g1m" ]; then
        [ -x "$gen" ] || make -s -C "$SHARED/tools/gen-articles" OUT="$gen"
        "$gen" -n 1000000 -s 42 -o "$g1m" "$SHARED"/corpora/*.jsonl.zst
    fi
    case $name in
        gen1m) echo "$g1m" ;;
        gen*k) local n=${name#gen}; n=${n%k}000 f=/tmp/$name.jsonl
               [ -f "$f" ] || zstd -dc "$g1m" | head -n "$n" > "$f"
               echo "$f" ;;
        *) echo "unknown corpus $name" >&2; exit 2 ;;
    esac
}

for name in $NAMES; do
    case $name in
        gen*) corpus=$(gen_archive "$name") ;;
        *) corpus=$SHARED/corpora/$name.jsonl.zst ;;
    esac
    q=$OUT/q-$name.tsv
    [ -s "$q" ] || python3 "$PEERS/make_queries.py" "$corpus" 50 --seed 1 > "$q"
    echo "=== $name: $corpus, queries $q"
    engines=$ENGINES
    if [ "${CPU:-1}" = 1 ]; then
        # Same engine names (so the same output files), each program wrapped
        # so that its `index` step runs under /usr/bin/time.
        mkdir -p "$OUT/$name/wrap"
        rm -f "$OUT/$name/cpu.txt"
        engines=""
        for spec in $ENGINES; do
            e=${spec%%=*} prog=$PEERS_BUILD/${spec%%=*}_bench
            [ "$spec" != "$e" ] && prog=${spec#*=}
            w=$OUT/$name/wrap/$e
            printf '#!/bin/sh\nif [ "$1" = index ]; then exec /usr/bin/time -a -o %s -f "CPU engine=%s user_s=%%U sys_s=%%S wall_s=%%e maxrss_kb=%%M" %s "$@"; fi\nexec %s "$@"\n' \
                "$OUT/$name/cpu.txt" "$e" "$prog" "$prog" > "$w"
            chmod +x "$w"
            engines="$engines $e=$w"
        done
    fi
    ENGINES=$engines "$PEERS/run_peers.sh" "$corpus" "$q" "$OUT/$name"
    [ -f "$OUT/$name/cpu.txt" ] && cat "$OUT/$name/cpu.txt"
    rm -f "$OUT/$name/product.txt"
    if [ -n "${PEERS_STORE:-}" ] && [ "$PEERS_STORE" != 0 ] && [ "${CLI:-1}" != 0 ]; then
        echo "== newsidx index (the CLI, defaults) on $OUT/$name/corpus.jsonl"
        OUT=$OUT/$name/product BUILD=$BUILD "$HERE/run_product.sh" "$OUT/$name/corpus.jsonl" \
            | grep '^PRODUCT' | tee "$OUT/$name/product.txt"
    fi
    if [ "${SAVE:-0}" = 1 ]; then
        mkdir -p "$HERE/results"
        { cat "$OUT/$name/summary.txt"; echo; [ -f "$OUT/$name/cpu.txt" ] && cat "$OUT/$name/cpu.txt"
          [ ! -f "$OUT/$name/product.txt" ] || cat "$OUT/$name/product.txt"; } \
            > "$HERE/results/$name.txt"
        python3 "$HERE/targets.py" "$OUT/$name" > "$HERE/results/$name.targets.md"
    fi
done
