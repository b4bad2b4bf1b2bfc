#!/usr/bin/env bash
# The main job on the bundled sample archive: install what is missing, build,
# index tests/data/sample.jsonl, and search it with highlighted snippets.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target newsidx_cli
out=${TMPDIR:-/tmp}/newsidx-sample
rm -rf "$out"
set -x
./build/newsidx index -o "$out" tests/data/sample.jsonl
./build/newsidx stats "$out"
./build/newsidx search "$out" 'traore'
./build/newsidx search "$out" '"heat wave" OR hitzewelle OR canicule' -n 3
./build/newsidx search "$out" 'date:2024-07 (spain OR españa OR spanien)' --sort date --facets source,month
./build/newsidx search "$out" 'title:paris 2024' --json -n 1
./build/newsidx analyze "Putin’s pledge to Traoré — ＦＵＬＬＷＩＤＴＨ ﬁnance, 東京都"
