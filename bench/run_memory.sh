#!/usr/bin/env bash
# bench/run_memory.sh — what `newsidx index --ram MB` really costs in
# memory: peak RSS under /usr/bin/time -v for --ram 4, 64 and 256 over an
# input of 126 MB or more, and for one 100 MB article (a .txt file: a JSON
# line that long is refused by the reader's line limit).
#
#   bench/run_memory.sh [JSONL]
#     JSONL  input of at least 126 MB (default: the first 90,000 articles
#            of /tmp/gen1m.jsonl.zst, 129 MB, written to $OUT/in126.jsonl)
# Environment:
#   BUILD    newsidx build directory (default build-bench in the source tree)
#   OUT      indexes, inputs and logs (default /tmp/newsidx-memory)
#   THREADS  --threads for every run (default: the library's default)
#   RAMS     budgets to run (default "4 64 256")
# Prints one line per run:
#   MEMORY input= ram_MB= threads= wall_s= peak_rss_MB= peak_anon_MB=
#          bound_MB= within=yes|no
# peak_rss_MB is /usr/bin/time's maximum resident set size: it counts pages
# of index files mapped for reading, which --ram does not bound (the merges
# at commit map every input segment). peak_anon_MB is the largest RssAnon
# seen by sampling /proc/PID/status every 20 ms (a spike shorter than that
# can be missed); bound_MB = ram_MB + 32 is what the documentation promises
# for it ("within" compares peak_anon_MB with it).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BUILD=${BUILD:-$SRC/build-bench}
OUT=${OUT:-/tmp/newsidx-memory}
RAMS=${RAMS:-"4 64 256"}
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DNEWSIDX_TESTS=OFF > /dev/null
cmake --build "$BUILD" -j2 --target newsidx_cli > /dev/null
NX=$BUILD/newsidx
mkdir -p "$OUT"

input=${1:-}
if [ -z "$input" ]; then
    input=$OUT/in126.jsonl
    # head stops reading early: zstd's SIGPIPE must not end the script (pipefail)
    [ -s "$input" ] || { zstd -dc /tmp/gen1m.jsonl.zst || true; } | head -n 90000 > "$input"
fi
big=$OUT/big100.txt
if [ ! -s "$big" ]; then
    # 100 MB of words, deterministic: one article
    python3 - "$big" <<'EOF'
import random, sys
random.seed(1)
words = ['alpha', 'beta', 'gamma', 'delta', 'news', 'market', 'river', 'city', 'council',
         'report', 'vote', 'storm']
with open(sys.argv[1], 'w') as f:
    n = 0
    while n < 100_000_000:
        line = ' '.join(random.choice(words) + str(random.randint(0, 50000)) for _ in range(1000)) + '\n'
        f.write(line)
        n += len(line)
EOF
fi

# run NAME RAM_MB INPUT: index INPUT, print the MEMORY line
run() {
    local name=$1 ram=$2 in=$3 dir=$OUT/idx
    rm -rf "$dir"
    local rc=0 peak_anon=0
    /usr/bin/time -v -o "$OUT/$name.time" "$NX" index -q -o "$dir" --ram "$ram" \
        ${THREADS:+--threads "$THREADS"} "$in" > "$OUT/$name.out" 2>&1 &
    local tpid=$! pid=""
    while kill -0 "$tpid" 2> /dev/null; do
        [ -n "$pid" ] || pid=$(pgrep -P "$tpid" | head -n 1 || true)
        if [ -n "$pid" ]; then
            local a
            a=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status" 2> /dev/null || true)
            if [ -n "$a" ] && [ "$a" -gt "$peak_anon" ]; then peak_anon=$a; fi
        fi
        sleep 0.02
    done
    wait "$tpid" || rc=$?
    [ "$rc" = 0 ] || [ "$rc" = 3 ] || { echo "newsidx index failed ($rc):"; tail "$OUT/$name.out"; exit 1; }
    local wall rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s}' "$OUT/$name.time")
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$OUT/$name.time")
    local anon bound
    anon=$(awk -v k="$peak_anon" 'BEGIN {printf "%.1f", k / 1024}')
    bound=$((ram + 32))
    echo "MEMORY input=$(basename "$in") input_MB=$(( $(stat -c %s "$in") >> 20 )) ram_MB=$ram" \
        "threads=${THREADS:-default} wall_s=$wall peak_rss_MB=$rss peak_anon_MB=$anon" \
        "bound_MB=$bound within=$(awk -v a="$anon" -v b="$bound" 'BEGIN {print (a <= b) ? "yes" : "no"}')"
}

for ram in $RAMS; do run "ram$ram" "$ram" "$input"; done
run big100 256 "$big"
