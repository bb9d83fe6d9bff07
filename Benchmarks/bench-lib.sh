# Sourced by the benchmarks' run.sh scripts (from the repository's root, after WORK and
# SECONDS_PER are set): CPU pinning, the processes they start, ports, and the proxy's CPU
# per unit of a measured rate.
#
# PIN=1 (default, on 2+ cores with taskset) puts every proxy on PROXY_CPUS (default 0) and
# the load generator and origin on LOAD_CPUS (default 1). Sets PROXY_PIN and LOAD_PIN
# (command prefixes), PC_THREADS (Portcullis's event-loop threads: one per CPU the proxy
# may use, since NIO counts the machine's cores; PC_THREADS=N overrides) and PC_ARGS.
PIN=${PIN:-1}
PROXY_CPUS=${PROXY_CPUS:-0}
LOAD_CPUS=${LOAD_CPUS:-1}
PROXY_PIN=(); LOAD_PIN=()
if [ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  PROXY_PIN=(taskset -c "$PROXY_CPUS"); LOAD_PIN=(taskset -c "$LOAD_CPUS")
  PC_THREADS=${PC_THREADS:-$(python3 -c "import sys; n=0
for part in sys.argv[1].split(','):
    a, _, b = part.partition('-'); n += int(b or a) - int(a) + 1
print(n)" "$PROXY_CPUS")}
fi
PC_ARGS=(); [ -n "${PC_THREADS:-}" ] && PC_ARGS=(--threads "$PC_THREADS")
echo "pinning: proxies ${PROXY_PIN[*]:-none}, load and origin ${LOAD_PIN[*]:-none}; portcullis threads ${PC_THREADS:-default}"

# Every process a script starts goes in PIDS; they are stopped (by PID) at exit.
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 400); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; return 1; }

RESULTS="$WORK/results.jsonl"
# A process's CPU ticks: user + system, and system (the kernel's share) alone; "0 0" without one.
ticks() { if [ -n "$1" ]; then awk '{print $14+$15, $15}' /proc/"$1"/stat; else echo 0 0; fi; }
# A rate test (its mode first; `run`, the caller's, appends its JSON line to RESULTS) and,
# for a proxy ($PID, labelled $who), one more line: the proxy's CPU per unit of that
# test's rate (what the rate would be limited by if the proxy had a core to itself), its
# kernel part (what a proxy with no user-space cost would still pay) and its user-space
# part. The line's mode is the test's mode and `cpu` (AS=name: name and `cpu`).
measured() {
  local mode=${AS:-$1} t0 s0 t1 s1
  read -r t0 s0 < <(ticks "$PID")
  run "$@"
  read -r t1 s1 < <(ticks "$PID")
  [ -z "$PID" ] || python3 -c "import json; r=json.loads(open('$RESULTS').readlines()[-1]); n=max(r['rate']*$SECONDS_PER,1); t=$(getconf CLK_TCK)
print(json.dumps({'label':'$who','mode':'${mode}cpu','us_per':($t1-$t0)*1e6/t/n,'sys_us_per':($s1-$s0)*1e6/t/n,
                  'user_us_per':(($t1-$t0)-($s1-$s0))*1e6/t/n}))" | tee -a "$RESULTS"
}
