#!/usr/bin/env bash
# A/B of credential-bench builds on a noisy machine: each pass runs every binary in turn
# (request rounds only, --mib 0), so all see the same disturbance within a minute; then the
# medians per binary and label of requests/s and of CPU µs per request (the gateway's
# event-loop thread, the origin's, the load generator's), and the injected/terminated
# ratios. Loopback only: each run in a private network namespace when run as root.
#
#   Benchmarks/CredentialBench/alternate.sh PASSES BASE_BIN NEW_BIN [MORE_BINS...]
#
# SECONDS_PER (4) per round, ROUNDS (3) rounds of each label per run. Build each binary with
# `swift build -c release --package-path Benchmarks --scratch-path .build-bench` and copy it
# away before building the next (touch Package.swift and Benchmarks/Package.swift first).
set -uo pipefail
PASSES=$1; shift; BINS=("$@")
OUT=$(mktemp /tmp/credential-alternate.XXXXXX)
for pass in $(seq "$PASSES"); do
  for i in "${!BINS[@]}"; do
    echo "# ${BINS[$i]} pass $pass load $(cut -d' ' -f1-3 /proc/loadavg) $(date -u +%H:%M:%S)" | tee -a "$OUT" >&2
    ARGS=(--seconds "${SECONDS_PER:-4}" --rounds "${ROUNDS:-3}" --mib 0)
    if [ "$(id -u)" = 0 ] && [ -z "${PORTCULLIS_TEST_IN_NETNS:-}" ]; then
      unshare --net bash -c 'ip link set lo up; exec "$0" "$@"' "${BINS[$i]}" "${ARGS[@]}"
    else
      "${BINS[$i]}" "${ARGS[@]}"
    fi | grep '"requests"' | sed "s|^{|{\"build\": $i, \"pass\": $pass, |" >> "$OUT"
  done
done
python3 - "$OUT" "${BINS[@]}" <<'PY'
import json, statistics as st, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
loads = [l.split(" load ")[1].split()[0] for l in open(sys.argv[1]) if l.startswith("#")]
print("load averages (1 min) at each run:", ", ".join(loads))
for i, name in enumerate(sys.argv[2:]):
    med = {}
    for label in ("terminated", "injected"):
        r = [x for x in rows if x["build"] == i and x["label"] == label]
        if not r:
            continue
        med[label] = {k: st.median(x[k] for x in r) for k in ("rate", "gateway_cpu_us", "origin_cpu_us", "load_cpu_us")}
        m = med[label]
        print(f"{name}  {label:10s} n={len(r):2d}  {m['rate']:7.0f} req/s  gateway {m['gateway_cpu_us']:5.1f} µs  "
              f"origin {m['origin_cpu_us']:5.1f}  load {m['load_cpu_us']:5.1f}")
    if len(med) == 2:
        pairs = [(x, y) for x in rows for y in rows if x["build"] == y["build"] == i and x["label"] == "injected"
                 and y["label"] == "terminated" and x["pass"] == y["pass"] and x["round"] == y["round"]]
        t, j = med["terminated"], med["injected"]
        print(f"{name}  injected/terminated: rate {j['rate'] / t['rate'] * 100:.1f} % (per-round median "
              f"{st.median(x['rate'] / y['rate'] for x, y in pairs) * 100:.1f} %); gateway CPU per request "
              f"+{j['gateway_cpu_us'] - t['gateway_cpu_us']:.1f} µs, terminated/injected {t['gateway_cpu_us'] / j['gateway_cpu_us'] * 100:.1f} %")
PY
echo "raw lines: $OUT" >&2
