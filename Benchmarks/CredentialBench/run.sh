#!/usr/bin/env bash
# Issue 18's benchmark row: injected requests/s against terminated requests without a
# credential (goal: within 10 %), and the scrubbing throughput on a 100 MiB body that holds
# the secret (goal: >= 1 GiB/s of scanned bytes), in one process on loopback only, inside
# a private network namespace (unshare --net) when run as root.
#
#   Benchmarks/CredentialBench/run.sh      # SECONDS_PER=5 CONC=16 ROUNDS=3 MIB=100 THREADS=1
#   Benchmarks/CredentialBench/alternate.sh PASSES BASE_BIN NEW_BIN   # an A/B on a busy machine
#
# SCRATCH (default Benchmarks/.build) is the benchmark package's build folder, never the
# root package's .build; CONFIG=debug gives a quick smoke run (the figures mean nothing then).
set -euo pipefail
cd "$(dirname "$0")/../.."
SCRATCH=${SCRATCH:-Benchmarks/.build}
CONFIG=${CONFIG:-release}
swift build -c "$CONFIG" --package-path Benchmarks --scratch-path "$SCRATCH" --product portcullis-credential-bench >/dev/null
BIN=$SCRATCH/$CONFIG/portcullis-credential-bench
ARGS=(--seconds "${SECONDS_PER:-5}" --concurrency "${CONC:-16}" --rounds "${ROUNDS:-3}" --mib "${MIB:-100}" --threads "${THREADS:-1}")
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$(id -u)" = 0 ] && [ -z "${PORTCULLIS_TEST_IN_NETNS:-}" ]; then
  unshare --net bash -c 'ip link set lo up; exec "$0" "$@"' "$BIN" "${ARGS[@]}"
else
  "$BIN" "${ARGS[@]}"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
