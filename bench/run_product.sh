#!/usr/bin/env bash
# bench/run_product.sh — the full product on article archives: `newsidx
# index` with every field and the doc store (the defaults), under
# /usr/bin/time -v for peak RSS, then `newsidx stats`; with BESIDE=1, the
# bench's stored model (`PEERS_STORE=1 newsidx_bench index`, the model
# run_peers.sh compares with the peers' stored models) on the same corpus,
# in the order CLI, bench, CLI (A/B/A: the machine is shared, so the ratio
# of the bench run to the mean of the two CLI runs is what means something).
#
#   bench/run_product.sh CORPUS...      (.jsonl, .jsonl.zst, .gz)
# Environment:
#   BUILD  newsidx build directory (default ./build-bench of this tree)
#   OUT    where indexes and logs go (default /tmp/newsidx-product)
#   RAM    --ram MB for the writer (default: the library's default budget)
#   BESIDE=1  also the bench's stored model, A/B/A as above
# Prints per corpus and CLI run:
#   PRODUCT corpus= docs= input_bytes= json_bytes= wall_s= user_s= sys_s=
#           docs_per_s= json_MB_per_s= peak_rss_MB= index_bytes=
# json_bytes is the uncompressed JSONL size (MB/s is over it, decompression
# included in the time when the input is compressed); then `newsidx stats`.
# With BESIDE=1 also the bench's INDEX line and
#   BESIDE corpus= cli_wall_s=A1,A2 bench_build_s= bench_optimize_s=
#          bench_over_cli= cli_bytes= bench_bytes=
# where bench_over_cli = (build_s + optimize_s) / mean(A1, A2). They differ
# by what each does besides indexing: the CLI fsyncs its commit and starts
# a process; the bench commits with no_sync (as the FTS5 peer) and then
# runs newsidx_writer_optimize (as every peer's optimize step).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BUILD=${BUILD:-$SRC/build-bench}
OUT=${OUT:-/tmp/newsidx-product}
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DNEWSIDX_TESTS=OFF > /dev/null
cmake --build "$BUILD" -j2 --target newsidx_cli newsidx_bench > /dev/null
NX=$BUILD/newsidx
NB=$BUILD/bench/newsidx_bench
mkdir -p "$OUT"

# cli_run CORPUS NAME JSON_BYTES: one `newsidx index`, its PRODUCT line;
# sets cli_wall and cli_bytes.
cli_run() {
    local corpus=$1 name=$2 json_bytes=$3 dir=$OUT/$2 rc=0
    rm -rf "$dir"
    /usr/bin/time -v -o "$OUT/$name.time" "$NX" index -o "$dir" ${RAM:+--ram "$RAM"} "$corpus" \
        > "$OUT/$name.index.out" 2> "$OUT/$name.index.err" || rc=$?
    [ "$rc" = 0 ] || [ "$rc" = 3 ] || { echo "newsidx index failed ($rc):"; tail "$OUT/$name.index.err"; exit 1; }
    cli_wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s}' "$OUT/$name.time")
    local user sys rss docs
    user=$(awk -F': ' '/User time/ {print $2}' "$OUT/$name.time")
    sys=$(awk -F': ' '/System time/ {print $2}' "$OUT/$name.time")
    rss=$(awk -F': ' '/Maximum resident/ {print $2}' "$OUT/$name.time")
    "$NX" stats "$dir" --json > "$OUT/$name.stats.json"
    docs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["docs"])' "$OUT/$name.stats.json")
    cli_bytes=$(du -sb "$dir" | cut -f1)
    awk -v c="$name" -v d="$docs" -v ib="$(stat -c %s -- "$corpus")" -v jb="$json_bytes" -v w="$cli_wall" \
        -v u="$user" -v s="$sys" -v r="$rss" -v x="$cli_bytes" 'BEGIN {
        printf "PRODUCT corpus=%s docs=%d input_bytes=%d json_bytes=%d wall_s=%.2f user_s=%.2f sys_s=%.2f docs_per_s=%.0f json_MB_per_s=%.1f peak_rss_MB=%.1f index_bytes=%d\n",
            c, d, ib, jb, w, u, s, d / w, jb / 1e6 / w, r / 1024, x }'
}

for corpus in "$@"; do
    name=$(basename "$corpus"); name=${name%%.*}
    case $corpus in
        *.zst) json_bytes=$(zstd -dc -- "$corpus" | wc -c) ;;
        *.gz)  json_bytes=$(gzip -dc -- "$corpus" | wc -c) ;;
        *)     json_bytes=$(stat -c %s -- "$corpus") ;;
    esac
    cli_run "$corpus" "$name" "$json_bytes"
    tail -n 12 "$OUT/$name.index.err"
    "$NX" stats "$OUT/$name"
    [ "${BESIDE:-0}" = 1 ] || continue
    a1=$cli_wall
    PEERS_STORE=1 "$NB" index "$OUT/$name.bench" "$corpus" > "$OUT/$name.bench.log"
    grep -E '^(#|INDEX)' "$OUT/$name.bench.log"
    cli_run "$corpus" "$name" "$json_bytes"
    awk -v c="$name" -v a1="$a1" -v a2="$cli_wall" -v cb="$cli_bytes" '/^INDEX / {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        t = v["build_s"] + v["optimize_s"]
        printf "BESIDE corpus=%s cli_wall_s=%.2f,%.2f bench_build_s=%.2f bench_optimize_s=%.2f bench_over_cli=%.2f cli_bytes=%d bench_bytes=%d\n",
            c, a1, a2, v["build_s"], v["optimize_s"], t / ((a1 + a2) / 2), cb, v["bytes"] }' "$OUT/$name.bench.log"
done
