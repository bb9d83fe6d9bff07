#!/usr/bin/env bash
# The sandbox path's benchmark (issue 6), in one run, side by side:
#   1. the DNS gateway against dnsmasq: queries/s answered from cache and forwarded
#      (Benchmarks/DNSBench/run.sh: dnsperf, loopback-only namespace);
#   2. tunnel setup rate through the transparent listener against the CONNECT path
#      (Benchmarks/Transparent/bench.py: root, private namespaces, nftables redirect).
# Both use one release build of the benchmark package (Benchmarks/Package.swift), which
# builds `portcullis` itself too, in SCRATCH (default Benchmarks/.build, relative to the
# root). Root only (namespaces, nftables).
#
#   sudo Benchmarks/SandboxBench.sh        # SECONDS_PER=5 UNIQUE=100000 COUNT=3000 WORKERS=1,8
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "SandboxBench: needs root (network namespaces, nftables)" >&2; exit 2; }
command -v nft >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables >/dev/null; }
python3 -c 'import requests' 2>/dev/null || python3 -m pip install -q requests
SCRATCH=${SCRATCH:-Benchmarks/.build}
CONFIG=${CONFIG:-release}
for product in portcullis portcullis-dns-bench; do
  swift build -c "$CONFIG" --package-path Benchmarks --scratch-path "$SCRATCH" --product "$product" >/dev/null
done
echo "== DNS gateway vs dnsmasq"
BIN=$SCRATCH/$CONFIG/portcullis-dns-bench SECONDS_PER=${SECONDS_PER:-5} UNIQUE=${UNIQUE:-100000} \
  Benchmarks/DNSBench/run.sh
echo
echo "== tunnel setup: transparent vs CONNECT"
python3 Benchmarks/Transparent/bench.py --binary "$SCRATCH/$CONFIG/portcullis" \
  --count "${COUNT:-3000}" --workers "${WORKERS:-1,8}"
