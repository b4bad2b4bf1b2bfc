#!/usr/bin/env bash
# Installs the Debian packages libnewsidx needs to build and test.
# As root it runs apt-get; otherwise it prints the exact command to run.
set -euo pipefail
PKGS="build-essential cmake pkg-config libzstd-dev libxxhash-dev check libutf8proc-dev
libstemmer-dev libjansson-dev libgumbo-dev zlib1g-dev libarchive-dev libgmime-3.0-dev
libuchardet-dev zstd zip clang valgrind"
missing=""
for p in $PKGS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing
else
    echo "missing packages; run as root:" >&2
    echo "  apt-get update && apt-get install -y$missing" >&2
    exit 1
fi
