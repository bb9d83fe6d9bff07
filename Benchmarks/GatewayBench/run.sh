#!/usr/bin/env bash
# The data plane's load benchmark: Portcullis, Squid and tinyproxy side by side with a
# direct connection and a naive reference, in one run, on loopback only. Each proxy gets
# the same one-host allowlist (localhost) and writes every connection to its access log.
# The naive reference (`portcullis-gateway-bench naive`, Naive.swift) is the smallest
# SwiftNIO CONNECT relay: no policy, no check, no audit. It is the floor of any SwiftNIO
# proxy here (CONNECT only, so it has no plain-HTTP row).
#
#   Benchmarks/GatewayBench/run.sh            # SECONDS_PER=5 CONC=32 IDLE=5000 BULK_MB=256
#
# COMPARE lists the other proxies to run (default "squid tinyproxy"; each is installed from
# Debian's packages when missing); COMPARE= runs direct, Portcullis and the naive relay only
# (a smoke run: SECONDS_PER=1 CONC=4 IDLE=50 BULK_MB=8 BULK16_MB=4 COMPARE= CONFIG=debug).
#
# The load generator and the origin are `Benchmarks/LoadGen/pcload.c` (C, epoll, one thread),
# compiled here with gcc: cheap enough not to be the bottleneck. LOADGEN=swift uses the
# older Swift/NIO generator and origin of the bench binary instead (for comparison).
# Pinning (PIN=1, the default on two or more CPUs): every proxy, Portcullis, Squid and
# tinyproxy alike, runs on PROXY_CPUS (default 0) and the generator and origin on
# LOAD_CPUS (default 1), so no proxy competes with the load for its core; Portcullis is
# given one event-loop thread per CPU it may run on. PIN=0 runs everything unpinned.
#
# Measures: CONNECT tunnels per second (open, CONNECT, one request/response, close) with
# p50/p99 setup latency; keep-alive plain-HTTP requests per second; bulk throughput through
# one and through 16 tunnels; resident memory per idle tunnel at $IDLE tunnels.
# The exchange inside those tunnels is HTTP, which Portcullis parses, decides and re-frames
# (every request in a plain-HTTP tunnel is inspected). OPAQUE=1 (the default) measures the
# tunnel rate once more with a non-HTTP exchange (`pcload --protocol opaque`), which every
# proxy relays as bytes: the cost of a tunnel itself. OPAQUE=0 leaves it out.
set -euo pipefail
cd "$(dirname "$0")/../.."

SECONDS_PER=${SECONDS_PER:-5}
CONC=${CONC:-32}
IDLE=${IDLE:-5000}
BULK_MB=${BULK_MB:-256}
BULK16_MB=${BULK16_MB:-32}

COMPARE=${COMPARE-squid tinyproxy}
compare() { case " $COMPARE " in *" $1 "*) return 0;; *) return 1;; esac; }
need=()
if compare squid; then command -v squid >/dev/null 2>&1 || [ -x /usr/sbin/squid ] || need+=(squid); fi
if compare tinyproxy; then command -v tinyproxy >/dev/null 2>&1 || [ -x /usr/bin/tinyproxy ] || need+=(tinyproxy); fi
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
SQUID=$(command -v squid || echo /usr/sbin/squid)
TINYPROXY=$(command -v tinyproxy || echo /usr/bin/tinyproxy)

ulimit -n 65536 || true
# BIN=path runs a binary built elsewhere (e.g. an earlier commit's, for a before/after table).
if [ -z "${BIN:-}" ]; then
  # The benchmarks are a package of their own (Benchmarks/Package.swift). SCRATCH is its
  # build folder, relative to the repository's root (default Benchmarks/.build); never
  # the root package's .build. CONFIG=debug builds a debug binary (a quick smoke run).
  SCRATCH=${SCRATCH:-Benchmarks/.build}
  CONFIG=${CONFIG:-release}
  swift build -c "$CONFIG" --package-path Benchmarks --scratch-path "$SCRATCH" --product portcullis-gateway-bench >/dev/null
  BIN=$SCRATCH/$CONFIG/portcullis-gateway-bench
fi
# PC_THREADS=N sets Portcullis's event-loop threads (default: one per core). One thread
# costs ~10 % less CPU per tunnel here but ~15 % of the 16-tunnel bulk rate; the tunnel
# rate did not move beyond noise either way.
WORK=$(mktemp -d /tmp/portcullis-bench.XXXXXX)
chmod 777 "$WORK"

. Benchmarks/bench-lib.sh

LOADGEN=${LOADGEN:-c}
if [ "$LOADGEN" = c ]; then
  gcc -O2 -Wall -o "$WORK/pcload" Benchmarks/LoadGen/pcload.c
  ORIGIN_CMD=("$WORK/pcload" origin); LOAD_CMD=("$WORK/pcload")
else
  ORIGIN_CMD=("$BIN" origin); LOAD_CMD=("$BIN" load)
fi

ORIGIN_PORT=$(free_port)
"${LOAD_PIN[@]}" "${ORIGIN_CMD[@]}" --port "$ORIGIN_PORT" >"$WORK/origin.out" 2>&1 & PIDS+=($!)
wait_port "$ORIGIN_PORT"
TARGET="localhost:$ORIGIN_PORT"

# Portcullis: allowlist mode, one allow rule, every attempt to a JSON-lines audit log.
PC_PORT=$(free_port)
echo "127.0.0.1 localhost" >"$WORK/hosts"
"${PROXY_PIN[@]}" "$BIN" serve --port "$PC_PORT" "${PC_ARGS[@]}" --allow localhost --hosts "$WORK/hosts" --audit "$WORK/portcullis-audit.jsonl" \
  >"$WORK/portcullis.out" 2>&1 & PC_PID=$!; PIDS+=($PC_PID)
wait_port "$PC_PORT"

# The naive reference: a bare SwiftNIO CONNECT relay with as many event-loop threads.
NAIVE_PORT=$(free_port)
"${PROXY_PIN[@]}" "$BIN" naive --port "$NAIVE_PORT" --threads "${PC_THREADS:-$(nproc)}" >"$WORK/naive.out" 2>&1 & NAIVE_PID=$!; PIDS+=($NAIVE_PID)
wait_port "$NAIVE_PORT"

# Squid: the same one-host allowlist, access log on, no cache.
if compare squid; then
SQUID_PORT=$(free_port)
cat >"$WORK/squid.conf" <<CONF
http_port 127.0.0.1:$SQUID_PORT
acl bench dstdomain localhost
http_access allow bench
http_access deny all
access_log stdio:$WORK/squid-access.log
cache_log $WORK/squid-cache.log
cache deny all
cache_mem 8 MB
pid_filename $WORK/squid.pid
coredump_dir $WORK
max_filedescriptors 65536
shutdown_lifetime 1 seconds
CONF
"${PROXY_PIN[@]}" "$SQUID" -N -f "$WORK/squid.conf" >"$WORK/squid.out" 2>&1 & SQUID_PID=$!; PIDS+=($SQUID_PID)
wait_port "$SQUID_PORT"
fi

# tinyproxy: the same allowlist through its filter (default deny), connections logged.
if compare tinyproxy; then
TP_PORT=$(free_port)
echo "^localhost$" >"$WORK/tinyproxy.filter"
cat >"$WORK/tinyproxy.conf" <<CONF
User nobody
Group nogroup
Port $TP_PORT
Listen 127.0.0.1
Timeout 600
MaxClients 20000
Allow 127.0.0.1
Filter "$WORK/tinyproxy.filter"
FilterDefaultDeny Yes
FilterExtended On
LogFile "$WORK/tinyproxy.log"
LogLevel Connect
CONF
touch "$WORK/tinyproxy.log"; chmod 666 "$WORK/tinyproxy.log"
"${PROXY_PIN[@]}" "$TINYPROXY" -d -c "$WORK/tinyproxy.conf" >"$WORK/tinyproxy.out" 2>&1 & TP_PID=$!; PIDS+=($TP_PID)
wait_port "$TP_PORT"
fi

run() { "${LOAD_PIN[@]}" "${LOAD_CMD[@]}" "$@" --target "$TARGET" | tee -a "$RESULTS"; }
for who in direct portcullis naive $COMPARE; do
  case $who in
    direct) P=(); PID="";;
    naive) P=(--proxy "127.0.0.1:$NAIVE_PORT"); PID=$NAIVE_PID;;
    portcullis) P=(--proxy "127.0.0.1:$PC_PORT"); PID=$PC_PID;;
    squid) P=(--proxy "127.0.0.1:$SQUID_PORT"); PID=$SQUID_PID;;
    tinyproxy) P=(--proxy "127.0.0.1:$TP_PORT"); PID=$TP_PID;;
    *) echo "COMPARE: unknown proxy $who (squid, tinyproxy)" >&2; exit 2;;
  esac
  measured tunnel "${P[@]}" --label $who --concurrency "$CONC" --seconds "$SECONDS_PER"
  if [ "${OPAQUE:-1}" = 1 ]; then
    AS=opaque-tunnel measured tunnel "${P[@]}" --protocol opaque --label $who --concurrency "$CONC" --seconds "$SECONDS_PER"
  fi
  [ "$who" = naive ] || measured http "${P[@]}" --label $who --concurrency "$CONC" --seconds "$SECONDS_PER"
  run bulk "${P[@]}" --label $who --concurrency 1 --mb "$BULK_MB"
  run bulk "${P[@]}" --label $who --concurrency 16 --mb "$BULK16_MB"
  if [ -n "$PID" ]; then
    run idle "${P[@]}" --label $who --concurrency "$IDLE" --pid "$PID"
    sleep 2
  fi
done

echo
echo "audit/access log lines: portcullis $(wc -l <"$WORK/portcullis-audit.jsonl"), squid $( [ -f "$WORK/squid-access.log" ] && wc -l <"$WORK/squid-access.log" || echo -), tinyproxy $( [ -f "$WORK/tinyproxy.log" ] && { grep -c -i 'connect' "$WORK/tinyproxy.log" || true; } || echo -)"
python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def get(label, mode, key, tunnels=None):
    for r in rows:
        if r["label"] == label and r["mode"] == mode and (tunnels is None or r.get("tunnels") == tunnels):
            return r.get(key)
    return None
metrics = [("CONNECT tunnels/s", "tunnel", "rate", None), ("tunnel setup p50 ms", "tunnel", "p50_ms", None),
           ("tunnel setup p99 ms", "tunnel", "p99_ms", None), ("proxy CPU us per tunnel", "tunnelcpu", "us_per", None),
           ("  of which kernel us", "tunnelcpu", "sys_us_per", None), ("  of which user us", "tunnelcpu", "user_us_per", None),
           ("load CPU us per tunnel", "tunnel", "load_cpu_us", None), ("keep-alive HTTP req/s", "http", "rate", None),
           ("proxy CPU us per request", "httpcpu", "us_per", None), ("  of which kernel us", "httpcpu", "sys_us_per", None),
           ("  of which user us", "httpcpu", "user_us_per", None),
           ("bulk MiB/s, 1 tunnel", "bulk", "mib_per_s", 1), ("bulk MiB/s, 16 tunnels", "bulk", "mib_per_s", 16),
           ("KiB per idle tunnel", "idle", "kib_per_tunnel", None),
           ("opaque tunnels/s", "opaque-tunnel", "rate", None), ("opaque setup p99 ms", "opaque-tunnel", "p99_ms", None),
           ("proxy CPU us per opaque", "opaque-tunnelcpu", "us_per", None),
           ("  of which kernel us", "opaque-tunnelcpu", "sys_us_per", None),
           ("  of which user us", "opaque-tunnelcpu", "user_us_per", None)]
labels = ["direct", "portcullis", "naive", "squid", "tinyproxy"]
print(f"{'':26}" + "".join(f"{l:>12}" for l in labels) + f"{'pc/direct':>11}{'pc/squid':>10}{'pc/naive':>10}{'naive/sq':>10}{'squid/dir':>10}")
for name, mode, key, t in metrics:
    vals = [get(l, mode, key, t) for l in labels]
    def ratio(a, b): return f"{a/b:.2f}x" if a is not None and b else "-"
    cells = "".join(f"{v:>12.1f}" if isinstance(v, (int, float)) else f"{'-':>12}" for v in vals)
    print(f"{name:26}{cells}{ratio(vals[1], vals[0]):>11}{ratio(vals[1], vals[3]):>10}{ratio(vals[1], vals[2]):>10}"
          f"{ratio(vals[2], vals[3]):>10}{ratio(vals[3], vals[0]):>10}")
fails = [(r["label"], r["mode"], r["failures"]) for r in rows if r.get("failures")]
if fails: print("failures:", fails)
PY
echo "(work files in $WORK)"
