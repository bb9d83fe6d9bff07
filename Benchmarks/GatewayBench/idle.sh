#!/usr/bin/env bash
# Memory per idle tunnel on a fresh gateway, for one or more Portcullis binaries: each
# binary serves alone (CPU 0, one event-loop thread, audit on), takes 1 s of tunnel load,
# then holds N tunnels that each carried one plain-HTTP exchange (`pcload idle`), and the
# growth of its resident memory per tunnel is printed; twice per binary. Loopback only:
# run it inside `unshare --net`.
#
#   unshare --net bash -c 'ip link set lo up; Benchmarks/GatewayBench/idle.sh 5000 BIN...'
#
# BIN: a release build of `portcullis-gateway-bench` (its `serve`). For where the bytes
# go, run the gateway under `heaptrack` instead (RESULTS.md, "Where an idle
# HTTP-carrying tunnel's bytes went").
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=$(mktemp -d /tmp/portcullis-idle.XXXXXX); chmod 755 "$WORK"
SECONDS_PER=1
. Benchmarks/bench-lib.sh
N=${1:?usage: idle.sh N BIN...}; shift
gcc -O2 -o "$WORK/pcload" Benchmarks/LoadGen/pcload.c
OP=$(free_port)
"${LOAD_PIN[@]}" "$WORK/pcload" origin --port "$OP" >"$WORK/origin.out" 2>&1 & PIDS+=($!)
wait_port "$OP"
echo "127.0.0.1 localhost" >"$WORK/hosts"
for round in 1 2; do
  for BIN in "$@"; do
    PC=$(free_port)
    "${PROXY_PIN[@]}" "$BIN" serve --port "$PC" "${PC_ARGS[@]}" --allow localhost --hosts "$WORK/hosts" \
      --audit "$WORK/audit-$round.jsonl" >"$WORK/pc-$PC.out" 2>&1 & PID=$!
    wait_port "$PC"
    "${LOAD_PIN[@]}" "$WORK/pcload" tunnel --proxy "127.0.0.1:$PC" --target "localhost:$OP" --concurrency 32 --seconds 1 --label warm-up >/dev/null
    sleep 1
    echo "$round $BIN: $("${LOAD_PIN[@]}" "$WORK/pcload" idle --proxy "127.0.0.1:$PC" --target "localhost:$OP" --concurrency "$N" --pid "$PID" --label idle)"
    kill "$PID"; wait "$PID" 2>/dev/null || true
    sleep 1
  done
done
