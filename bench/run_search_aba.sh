#!/usr/bin/env bash
# bench/run_search_aba.sh — search steps only, engines taking turns, on the
# indexes a run_peers.sh (or run_compare.sh) run already built.  run_peers.sh
# searches engine after engine, so a burst of load from the machine's other
# users lands on one engine only; here every engine runs the query file
# ROUNDS times in the order E1..En, E2..En E1, ... (rotated each round), and
# bench/lat_table.py takes per query the median over the rounds.
#
#   bench/run_search_aba.sh RUNDIR QUERIES ENGINE...
#         RUNDIR: a run_peers.sh output directory (RUNDIR/index/E/ exists)
#         ENGINE: fts5, xapian, lucene (built in PEERS_BUILD) or NAME=PROGRAM
# Environment:
#   ROUNDS        turns per engine (default 3)
#   REPS, WARMUP  as run_peers.sh (defaults 15 and 10)
#   MODES         default "TOP10 COUNT"
#   PEERS_BUILD   default /tmp/newsidx-peers-build
# Writes RUNDIR/aba/rN/E.MODE.tsv(.lat) and RUNDIR/aba/load.txt (uptime
# before every round and at the end), then prints lat_table.py's tables.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 3 ] || { sed -n '2,19p' "$0"; exit 2; }
RUNDIR=$1 QUERIES=$(realpath "$2")
shift 2
ROUNDS=${ROUNDS:-3}
REPS=${REPS:-15}
export WARMUP=${WARMUP:-10}
MODES=${MODES:-TOP10 COUNT}
PEERS_BUILD=${PEERS_BUILD:-/tmp/newsidx-peers-build}
ENGINES=("$@")
n=${#ENGINES[@]}
rm -rf "$RUNDIR/aba"
mkdir -p "$RUNDIR/aba"
for ((r = 1; r <= ROUNDS; r++)); do
    echo "round $r $(date -u +%H:%M:%S) $(uptime)" | tee -a "$RUNDIR/aba/load.txt"
    mkdir -p "$RUNDIR/aba/r$r"
    for ((i = 0; i < n; i++)); do
        spec=${ENGINES[$(((i + r - 1) % n))]}
        e=${spec%%=*} prog=$PEERS_BUILD/${spec%%=*}_bench
        [ "$spec" != "$e" ] && prog=${spec#*=}
        for mode in $MODES; do
            "$prog" search "$RUNDIR/index/$e" "$QUERIES" "$mode" "$REPS" \
                "$RUNDIR/aba/r$r/$e.$mode.tsv" > "$RUNDIR/aba/r$r/$e.$mode.log"
        done
    done
done
echo "end $(date -u +%H:%M:%S) $(uptime)" | tee -a "$RUNDIR/aba/load.txt"
names=()
for spec in "${ENGINES[@]}"; do names+=("${spec%%=*}"); done
python3 "$HERE/lat_table.py" "$RUNDIR/aba" "${names[@]}"
