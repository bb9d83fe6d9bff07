# Sourced by the benchmarks' run.sh scripts (from the repository's root): CPU pinning.
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
