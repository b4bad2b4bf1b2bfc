#!/usr/bin/env bash
# bench/run_index_aba.sh — index steps only, engines taking turns: on a
# machine shared with other jobs one run per engine says little, so each
# engine indexes the same corpus ROUNDS times, in the order
# E1 E2 ... En E1 E2 ... En ... (A/B/A/B...), each under /usr/bin/time.
#
#   bench/run_index_aba.sh CORPUS [ENGINE...]
#         ENGINE: fts5, xapian, lucene (../shared/tools/peers, built in
#         PEERS_BUILD) or NAME=PROGRAM (default "fts5 newsidx=BUILD's bench")
# Environment:
#   ROUNDS        turns per engine (default 3)
#   PEERS_STORE   passed on: 1 = every engine stores the text (the stored model)
#   OUT           work directory (default /tmp/newsidx-index-aba)
#   BUILD         newsidx build directory (default ./build-bench of this tree)
#   PEERS_BUILD   default /tmp/newsidx-peers-build
# Prints per run
#   RUN engine= round= build_s= optimize_s= index_s= cpu_s= bytes=
# then per engine the median index_s (build + optimize, as run_peers.sh's
# "index s") and CPU seconds, and their ratios to the first engine's.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BUILD=${BUILD:-$SRC/build-bench}
PEERS_BUILD=${PEERS_BUILD:-/tmp/newsidx-peers-build}
OUT=${OUT:-/tmp/newsidx-index-aba}
ROUNDS=${ROUNDS:-3}
CORPUS=$1
shift
ENGINES=("$@")
[ ${#ENGINES[@]} -gt 0 ] || ENGINES=(fts5 "newsidx=$BUILD/bench/newsidx_bench")
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DNEWSIDX_TESTS=OFF > /dev/null
cmake --build "$BUILD" -j2 --target newsidx_bench > /dev/null
mkdir -p "$OUT"
# one plain copy, as run_peers.sh gives every engine
case $CORPUS in
    *.zst) zstd -dc -- "$CORPUS" > "$OUT/corpus.jsonl" ;;
    *.gz)  gzip -dc -- "$CORPUS" > "$OUT/corpus.jsonl" ;;
    *)     cp -- "$CORPUS" "$OUT/corpus.jsonl" ;;
esac
rm -f "$OUT/runs.txt"
for ((r = 1; r <= ROUNDS; r++)); do
    for spec in "${ENGINES[@]}"; do
        e=${spec%%=*} prog=$PEERS_BUILD/${spec%%=*}_bench
        [ "$spec" != "$e" ] && prog=${spec#*=}
        /usr/bin/time -o "$OUT/$e.time" -f "%U %S" "$prog" index "$OUT/index-$e" "$OUT/corpus.jsonl" \
            > "$OUT/$e.index.log"
        read -r user sys < "$OUT/$e.time"
        awk -v e="$e" -v r="$r" -v u="$user" -v s="$sys" '/^INDEX / {
            for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            # the bench program'"'"'s own CPU time of the index step where it
            # prints one (newsidx: /usr/bin/time would add its counting pass)
            cpu = ("cpu_s" in v) ? v["cpu_s"] : u + s
            printf "RUN engine=%s round=%d build_s=%.3f optimize_s=%.3f index_s=%.3f cpu_s=%.2f bytes=%d\n",
                e, r, v["build_s"], v["optimize_s"], v["build_s"] + v["optimize_s"], cpu, v["bytes"] }' \
            "$OUT/$e.index.log" | tee -a "$OUT/runs.txt"
    done
done
python3 - "$OUT/runs.txt" "${ENGINES[@]%%=*}" <<'PY'
import re, statistics, sys
runs = [dict(re.findall(r"(\w+)=(\S+)", l)) for l in open(sys.argv[1])]
engines = sys.argv[2:]
med = {}
for e in engines:
    rs = [r for r in runs if r["engine"] == e]
    med[e] = (statistics.median(float(r["index_s"]) for r in rs),
              statistics.median(float(r["cpu_s"]) for r in rs), int(rs[-1]["bytes"]))
base = engines[0]
for e in engines:
    t, c, b = med[e]
    print(f"MEDIAN engine={e} index_s={t:.3f} cpu_s={c:.2f} bytes={b} "
          f"index_over_{base}={t / med[base][0]:.2f} cpu_over_{base}={c / med[base][1]:.2f} "
          f"bytes_over_{base}={b / med[base][2]:.2f}")
PY
