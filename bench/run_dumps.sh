#!/usr/bin/env bash
# bench/run_dumps.sh — issue 12's throughput targets: indexing a .tar.zst of
# the BBC articles as HTML files is no slower than the same articles as a
# directory, and reading a WARC costs at most 20% of indexing time.
#
#   bench/run_dumps.sh [ROUNDS]        (default 9; a multiple of 3 balances the order)
# Environment:
#   BUILD   a Release build with newsidx and bench/ingest_bench (default build)
#   OUT     where the dumps, indexes and logs go (default /tmp/newsidx-dumps)
#   CORPUS  JSON Lines to write out as HTML (default ../shared/corpora/bbc.jsonl.zst)
#
# The dumps come from bench/make_dumps.py (made once, kept in OUT). Each
# round runs every input once, so that a change in the machine's load falls
# on all of them alike (the machine is shared: only ratios within one run
# mean anything), and each round starts one input later (dir tar warc, tar
# warc dir, warc dir tar, ...): with a fixed order the second of two
# identical runs measured ~2% slower than the first, a bias that a fixed
# order puts on one input alone. Two
# measures, both CPU seconds (user + system, of the process and its
# threads) because wall time on a shared machine varies by 2x between
# identical runs:
#   read   ingest_bench: every record read and handed to a callback that
#          only counts it (file reading, decompression, charset, gumbo,
#          metadata)
#   index  `newsidx index -q` into a fresh directory: reading plus the writer
# Prints one line per run (RUN input= measure= cpu_s=), then the medians and
# the ratios to the directory's median:
#   DUMPS input=tar read_s= index_s= read_ratio= index_ratio=
# and the WARC's shares of the directory's indexing time: all of its reading,
# and what reading it costs beyond reading the same pages from files.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BUILD=${BUILD:-$SRC/build}
OUT=${OUT:-/tmp/newsidx-dumps}
CORPUS=${CORPUS:-$SRC/../shared/corpora/bbc.jsonl.zst}
ROUNDS=${1:-9}
NX=$BUILD/newsidx
IB=$BUILD/bench/ingest_bench
for p in "$NX" "$IB"; do
    [ -x "$p" ] || { echo "missing $p: build $BUILD first (Release, NEWSIDX_BENCH=ON)" >&2; exit 1; }
done
mkdir -p "$OUT"
[ -f "$OUT/html.warc.gz" ] && [ -f "$OUT/html.tar.zst" ] && [ -d "$OUT/html" ] ||
    python3 "$HERE/make_dumps.py" "$CORPUS" "$OUT"
declare -A input=([dir]="$OUT/html" [tar]="$OUT/html.tar.zst" [warc]="$OUT/html.warc.gz")
log=$OUT/runs.txt
: > "$log"

cpu() { # CPU seconds of a command, from getrusage (/usr/bin/time rounds to 10 ms)
    python3 - "$OUT/err" "$@" <<'PY' || { echo "failed: ${*}" >&2; tail -5 "$OUT/err" >&2; exit 1; }
import resource, subprocess, sys
with open(sys.argv[1], "w") as err:
    rc = subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=err).returncode
if rc not in (0, 3):  # 3: newsidx index finished with warnings
    sys.exit(1)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.4f" % (r.ru_utime + r.ru_stime))
PY
}

order=(dir tar warc)
for round in $(seq 0 $((ROUNDS - 1))); do
    for j in 0 1 2; do
        k=${order[$(((round + j) % 3))]}
        t=$(cpu "$IB" "${input[$k]}")
        echo "RUN input=$k measure=read cpu_s=$t" | tee -a "$log"
        rm -rf "$OUT/index"
        t=$(cpu "$NX" index -q -o "$OUT/index" "${input[$k]}")
        echo "RUN input=$k measure=index cpu_s=$t" | tee -a "$log"
    done
done
rm -rf "$OUT/index"

python3 - "$log" <<'EOF'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    m = re.match(r"RUN input=(\w+) measure=(\w+) cpu_s=([\d.]+)", line)
    if m:
        runs.setdefault((m[1], m[2]), []).append(float(m[3]))
med = {k: statistics.median(v) for k, v in runs.items()}
for k in ("dir", "tar", "warc"):
    print("DUMPS input=%s read_s=%.4f index_s=%.4f read_ratio=%.3f index_ratio=%.3f" % (
        k, med[k, "read"], med[k, "index"], med[k, "read"] / med["dir", "read"],
        med[k, "index"] / med["dir", "index"]))
print("WARC read_share_of_index=%.1f%% extra_over_files_share=%.1f%%" % (
    100 * med["warc", "read"] / med["dir", "index"],
    100 * (med["warc", "read"] - med["dir", "read"]) / med["dir", "index"]))
EOF
