#!/usr/bin/env bash
# A/B of Portcullis binaries on a noisy machine: every binary serves at once (CPU 0, one
# event-loop thread, audit on), and each round runs every mode against each binary in turn
# (generator and origin on CPU 1), so that all see the same disturbance within seconds.
# Prints each test's rate and the proxy's user, kernel and total CPU per unit (tunnel or
# request). Loopback only: run it inside `unshare --net` (fixed ports 19101-19120).
#
#   unshare --net bash -c 'ip link set lo up; Benchmarks/GatewayBench/alternate.sh "tunnel http" 5 OLD_BIN NEW_BIN'
#
# The word `squid` in place of a binary runs Squid (CPU 0, the same one-host allowlist and
# access log as run.sh) in the same rounds, so a ratio to Squid is measured interleaved:
#   ... alternate.sh tunnel 8 squid BIN      (then the medians of the rounds, not one run)
#
# MODES: tunnel, http, opaque (a tunnel with a non-HTTP exchange). SECS (5) per test,
# CONC (32) clients. Compare medians over the rounds, not single runs.
set -uo pipefail
cd "$(dirname "$0")/../.."
MODES=$1; ROUNDS=$2; shift 2; BINS=("$@")
SECS=${SECS:-5}; CONC=${CONC:-32}
W=$(mktemp -d /tmp/portcullis-alternate.XXXXXX); chmod 777 "$W"; echo "127.0.0.1 localhost" > "$W/hosts"
gcc -O2 -Wall -o "$W/pcload" Benchmarks/LoadGen/pcload.c
PIDS=(); trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null' EXIT
taskset -c 1 "$W/pcload" origin --port 19101 > "$W/origin.out" 2>&1 & PIDS+=($!)
PORTS=(); SP=()
for i in "${!BINS[@]}"; do
  p=$((19110 + i))
  if [ "${BINS[$i]}" = squid ]; then
    SQUID=$(command -v squid || echo /usr/sbin/squid)
    printf '%s\n' "http_port 127.0.0.1:$p" "acl bench dstdomain localhost" "http_access allow bench" "http_access deny all" \
      "access_log stdio:$W/squid-access.log" "cache_log $W/squid-cache.log" "cache deny all" "cache_mem 8 MB" \
      "pid_filename $W/squid.pid" "coredump_dir $W" "max_filedescriptors 65536" "shutdown_lifetime 1 seconds" > "$W/squid.conf"
    taskset -c 0 "$SQUID" -N -f "$W/squid.conf" > "$W/squid.out" 2>&1 & SP+=($!); PIDS+=($!); PORTS+=($p)
    continue
  fi
  taskset -c 0 "${BINS[$i]}" serve --port $p --threads 1 --allow localhost --hosts "$W/hosts" --audit "$W/audit$i.jsonl" \
    > "$W/serve$i.out" 2>&1 & SP+=($!); PIDS+=($!); PORTS+=($p)
done
for p in "${PORTS[@]}"; do for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.05; done; done
for j in "${!SP[@]}"; do
  kill -0 "${SP[$j]}" 2>/dev/null || { echo "${BINS[$j]} did not start:" >&2; cat "$W"/*.out >&2; exit 1; }
done
T=$(getconf CLK_TCK)
for p in "${PORTS[@]}"; do  # warm-up
  taskset -c 1 "$W/pcload" tunnel --proxy 127.0.0.1:$p --label w --concurrency 8 --seconds 1 --target localhost:19101 > /dev/null
done
for r in $(seq "$ROUNDS"); do
  for m in $MODES; do
    for j in "${!BINS[@]}"; do
      pid=${SP[$j]}; extra=(); mode=$m
      [ "$m" = opaque ] && { mode=tunnel; extra=(--protocol opaque); }
      read -r u0 s0 < <(awk '{print $14, $15}' /proc/"$pid"/stat)
      out=$(taskset -c 1 "$W/pcload" "$mode" "${extra[@]}" --proxy 127.0.0.1:${PORTS[$j]} --label x --concurrency "$CONC" \
        --seconds "$SECS" --target localhost:19101)
      read -r u1 s1 < <(awk '{print $14, $15}' /proc/"$pid"/stat)
      python3 - "$out" "$r" "$m" "${BINS[$j]}" "$u0" "$s0" "$u1" "$s1" "$T" "$SECS" <<'PY'
import json, sys
out, r, m, b, u0, s0, u1, s1, t, secs = sys.argv[1:]
res = json.loads(out); n = max(res["rate"] * float(secs), 1); k = 1e6 / int(t) / n
u, s = (int(u1) - int(u0)) * k, (int(s1) - int(s0)) * k
print(f"round {r} {m:7} {b}: rate {res['rate']:9.1f}  user {u:6.1f} us  kernel {s:6.1f} us  total {u + s:6.1f} us  failures {res['failures']}")
PY
    done
  done
done | tee "$W/rounds.txt"
python3 - "$W/rounds.txt" "${BINS[@]}" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"round \d+ (\S+)\s+(.*): rate\s+([\d.]+)\s+user\s+([\d.]+) us\s+kernel\s+([\d.]+) us\s+total\s+([\d.]+) us", line)
    if m: rows.setdefault((m[1], m[2]), []).append((float(m[3]), float(m[4]), float(m[6])))
bins = sys.argv[2:]
print("medians over the rounds (ratio: rate against the first binary's, in the same rounds)")
for mode in dict.fromkeys(k[0] for k in rows):
    base = rows.get((mode, bins[0]))
    for b in bins:
        r = rows.get((mode, b))
        if not r: continue
        rate, user, total = (statistics.median(x[i] for x in r) for i in range(3))
        ratio = statistics.median(x[0] / y[0] for x, y in zip(r, base)) if base else float("nan")
        print(f"{mode:7} {b}: rate {rate:9.1f}  user {user:6.1f} us  total {total:6.1f} us  x{ratio:.2f} of {bins[0]} (rounds {len(r)})")
PY
