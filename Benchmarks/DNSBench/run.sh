#!/usr/bin/env bash
# The DNS gateway's benchmark: Portcullis and dnsmasq side by side, in one run, inside a
# private network namespace with only loopback up. Both forward to the same upstream that
# this script starts on 127.0.0.1 (it answers every A question), both cache (10,000
# entries). Load: dnsperf from Debian's packages, UDP.
#
#   Benchmarks/DNSBench/run.sh        # SECONDS_PER=10 OUTSTANDING=200 UNIQUE=200000
#
# Measures queries per second, queries lost and average latency for
#   cached    — 100 names asked over and over after one warm-up pass (cache hits);
#   forwarded — every name asked once (unique names, so every query is a cache miss
#               forwarded to the upstream).
# Portcullis decides each query through a sandbox policy (denylist, no rules) and queues
# one audit event per query (counted, not stored); dnsmasq logs nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."

SECONDS_PER=${SECONDS_PER:-10}
OUTSTANDING=${OUTSTANDING:-200}
UNIQUE=${UNIQUE:-200000}

if [ -z "${DNSBENCH_IN_NETNS:-}" ]; then
  need=()
  command -v dnsperf >/dev/null 2>&1 || need+=(dnsperf)
  command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
  command -v unshare >/dev/null 2>&1 || need+=(util-linux)
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  # BIN=path runs a binary built elsewhere. Otherwise it is built in the benchmark package
  # (Benchmarks/Package.swift) in SCRATCH (default Benchmarks/.build, relative to the root).
  if [ -z "${BIN:-}" ]; then
    SCRATCH=${SCRATCH:-Benchmarks/.build}
    CONFIG=${CONFIG:-release}
    swift build -c "$CONFIG" --package-path Benchmarks --scratch-path "$SCRATCH" --product portcullis-dns-bench >/dev/null
    BIN=$SCRATCH/$CONFIG/portcullis-dns-bench
  fi
  export BIN SECONDS_PER OUTSTANDING UNIQUE
  exec unshare --net -- env DNSBENCH_IN_NETNS=1 bash -c 'ip link set lo up && exec "$0"' "$0"
fi

# Abort unless this namespace has loopback and nothing else.
if ip -o link show | grep -v ': lo:' | grep -q .; then echo "DNSBench: not in a loopback-only namespace" >&2; exit 2; fi
ip -o addr show lo | grep -q '127.0.0.1' || { echo "DNSBench: loopback is not up" >&2; exit 2; }

DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
WORK=$(mktemp -d /tmp/portcullis-dnsbench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

UP_PORT=5399 PC_PORT=5301 DM_PORT=5302
wait_ready() { for _ in $(seq 400); do grep -q '^ready' "$1" 2>/dev/null && return 0; sleep 0.05; done; echo "$1 never ready" >&2; cat "$1" >&2; return 1; }

"$BIN" upstream --port "$UP_PORT" >"$WORK/upstream.out" 2>&1 & PIDS+=($!)
wait_ready "$WORK/upstream.out"
"$BIN" gateway --port "$PC_PORT" --upstream "$UP_PORT" >"$WORK/portcullis.out" 2>"$WORK/portcullis.err" & PIDS+=($!)
wait_ready "$WORK/portcullis.out"
"$DNSMASQ" --keep-in-foreground --no-resolv --no-hosts --no-poll --bind-interfaces --listen-address=127.0.0.1 \
  --port="$DM_PORT" --server="127.0.0.1#$UP_PORT" --cache-size=10000 --dns-forward-max=1000 --user=root \
  --pid-file="$WORK/dnsmasq.pid" >"$WORK/dnsmasq.out" 2>&1 & PIDS+=($!)
for _ in $(seq 100); do dig +short +tries=1 +time=1 -p "$DM_PORT" @127.0.0.1 probe.bench.test >/dev/null 2>&1 && break; sleep 0.05; done

for i in $(seq 100); do echo "c$i.bench.test A"; done >"$WORK/cached.txt"
for who in pc dm; do
  for i in $(seq "$UNIQUE"); do echo "f$i.$who.bench.test A"; done >"$WORK/unique-$who.txt"
done

# dnsperf → "qps lost avg_latency_ms"
perf() {
  local port=$1 file=$2; shift 2
  dnsperf -s 127.0.0.1 -p "$port" -d "$file" -q "$OUTSTANDING" -c 8 -t 2 "$@" >"$WORK/perf.out" 2>&1 || true
  local qps lost lat
  qps=$(awk '/Queries per second:/ {print $4}' "$WORK/perf.out")
  lost=$(awk '/Queries lost:/ {print $3}' "$WORK/perf.out")
  lat=$(awk '/Average Latency/ {print $4}' "$WORK/perf.out")
  printf '%.0f %s %.3f\n' "${qps:-0}" "${lost:-?}" "$(echo "${lat:-0} * 1000" | bc -l 2>/dev/null || echo 0)"
}

declare -A R
for who in pc dm; do
  port=$PC_PORT; [ "$who" = dm ] && port=$DM_PORT
  perf "$port" "$WORK/cached.txt" -n 1 >/dev/null   # warm-up: fill the cache
  R[$who-cached]=$(perf "$port" "$WORK/cached.txt" -l "$SECONDS_PER")
  R[$who-forwarded]=$(perf "$port" "$WORK/unique-$who.txt" -n 1 -l "$SECONDS_PER")
done

echo
echo "DNS gateway benchmark ($(nproc) cores, loopback, dnsperf -q $OUTSTANDING -c 8, ${SECONDS_PER}s per cell)"
echo
echo "| scenario | Portcullis q/s | lost | avg ms | dnsmasq q/s | lost | avg ms |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for s in cached forwarded; do
  read -r pq pl pa <<<"${R[pc-$s]}"
  read -r dq dl da <<<"${R[dm-$s]}"
  echo "| $s | $pq | $pl | $pa | $dq | $dl | $da |"
done
kill "${PIDS[1]}" 2>/dev/null || true
sleep 1
grep -h "audit events" "$WORK/portcullis.err" || true
