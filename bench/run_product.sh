#!/usr/bin/env bash
# bench/run_product.sh — the full product on article archives: `newsidx
# index` with every field and the doc store (the defaults), under
# /usr/bin/time -v for peak RSS, then `newsidx stats`.
#
#   bench/run_product.sh CORPUS...      (.jsonl, .jsonl.zst, .gz)
# Environment:
#   BUILD  newsidx build directory (default /work/main/build-bench)
#   OUT    where indexes and logs go (default /tmp/newsidx-product)
#   RAM    --ram MB for the writer (default: the library's default budget)
# Prints one line per corpus:
#   PRODUCT corpus= docs= input_bytes= json_bytes= wall_s= user_s= sys_s=
#           docs_per_s= json_MB_per_s= peak_rss_MB= index_bytes=
# json_bytes is the uncompressed JSONL size (MB/s is over it, decompression
# included in the time when the input is compressed); then `newsidx stats`.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BUILD=${BUILD:-$SRC/build-bench}
OUT=${OUT:-/tmp/newsidx-product}
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DNEWSIDX_TESTS=OFF > /dev/null
cmake --build "$BUILD" -j2 --target newsidx_cli > /dev/null
NX=$BUILD/newsidx
mkdir -p "$OUT"

for corpus in "$@"; do
    name=$(basename "$corpus"); name=${name%%.*}
    dir=$OUT/$name
    rm -rf "$dir"
    case $corpus in
        *.zst) json_bytes=$(zstd -dc -- "$corpus" | wc -c) ;;
        *.gz)  json_bytes=$(gzip -dc -- "$corpus" | wc -c) ;;
        *)     json_bytes=$(stat -c %s -- "$corpus") ;;
    esac
    rc=0
    /usr/bin/time -v -o "$OUT/$name.time" "$NX" index -o "$dir" ${RAM:+--ram "$RAM"} "$corpus" \
        > "$OUT/$name.index.out" 2> "$OUT/$name.index.err" || rc=$?
    [ "$rc" = 0 ] || [ "$rc" = 3 ] || { echo "newsidx index failed ($rc):"; tail "$OUT/$name.index.err"; exit 1; }
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s}' "$OUT/$name.time")
    user=$(awk -F': ' '/User time/ {print $2}' "$OUT/$name.time")
    sys=$(awk -F': ' '/System time/ {print $2}' "$OUT/$name.time")
    rss=$(awk -F': ' '/Maximum resident/ {print $2}' "$OUT/$name.time")
    "$NX" stats "$dir" --json > "$OUT/$name.stats.json"
    docs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["docs"])' "$OUT/$name.stats.json")
    ibytes=$(du -sb "$dir" | cut -f1)
    awk -v c="$name" -v d="$docs" -v ib="$(stat -c %s -- "$corpus")" -v jb="$json_bytes" -v w="$wall" \
        -v u="$user" -v s="$sys" -v r="$rss" -v x="$ibytes" 'BEGIN {
        printf "PRODUCT corpus=%s docs=%d input_bytes=%d json_bytes=%d wall_s=%.2f user_s=%.2f sys_s=%.2f docs_per_s=%.0f json_MB_per_s=%.1f peak_rss_MB=%.1f index_bytes=%d\n",
            c, d, ib, jb, w, u, s, d / w, jb / 1e6 / w, r / 1024, x }'
    tail -n 12 "$OUT/$name.index.err"
    "$NX" stats "$dir"
done
