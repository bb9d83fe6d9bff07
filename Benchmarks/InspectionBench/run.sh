#!/usr/bin/env bash
# The inspection benchmark (issue 17): HTTPS through a proxy that terminates TLS —
# Portcullis, Squid with ssl-bump (Debian's squid-openssl) and mitmproxy (PyPI) side by side,
# with a direct connection, and the same proxies as opaque tunnels (TLS end to end), in one
# run on loopback only. Every proxy gets the same one-host policy (localhost allowed,
# everything else refused) and writes every request or connection to its log.
#
#   Benchmarks/InspectionBench/run.sh          # SECONDS_PER=5 CONC=32 IDLE=1000
#
# Measures, for each proxy terminating and as an opaque tunnel:
#   keep-alive HTTPS requests/s over CONC connections, with p50/p99 per request and the
#   proxy's CPU per request;
#   new TLS connections/s (CONNECT, full handshake, one request, close) with p50/p99 per
#   connection and the proxy's CPU per connection;
#   resident memory per idle connection at IDLE connections (one exchange each, held).
# No session is ever resumed: the client sends no ticket and keeps no cache, and the origin
# issues none, so every connection costs every proxy a full handshake on each leg.
# Certificates are ECDSA P-256 everywhere: the origin's (from a CA made here), Portcullis's
# leaves (its sandbox CA), Squid's and mitmproxy's (each from a P-256 CA made here).
#
# The load generator and the origin are Benchmarks/LoadGen/pctls.c (C, OpenSSL, epoll, one
# thread), compiled here. Pinning as in GatewayBench/run.sh: every proxy on PROXY_CPUS
# (default 0; Portcullis with one event-loop thread per CPU there), generator and origin on
# LOAD_CPUS (default 1). COMPARE (default "squid mitmproxy") lists the other proxies;
# COMPARE= runs direct and Portcullis only (a smoke run: SECONDS_PER=1 CONC=4 IDLE=50 COMPARE= CONFIG=debug).
# mitmproxy is installed with pip into MITM_VENV (default ~/.cache/portcullis-bench-mitmproxy).
set -euo pipefail
cd "$(dirname "$0")/../.."

SECONDS_PER=${SECONDS_PER:-5}
CONC=${CONC:-32}
IDLE=${IDLE:-1000}
COMPARE=${COMPARE-squid mitmproxy}
compare() { case " $COMPARE " in *" $1 "*) return 0;; *) return 1;; esac; }

if compare squid && ! { [ -x /usr/lib/squid/security_file_certgen ] && command -v squid >/dev/null 2>&1 || [ -x /usr/sbin/squid ]; }; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq squid-openssl
fi
SQUID=$(command -v squid || echo /usr/sbin/squid)
CERTGEN=/usr/lib/squid/security_file_certgen
if compare squid && [ ! -x "$CERTGEN" ]; then echo "squid has no $CERTGEN: install squid-openssl (ssl-bump)" >&2; exit 1; fi
MITM_VENV=${MITM_VENV:-$HOME/.cache/portcullis-bench-mitmproxy}
if compare mitmproxy && [ ! -x "$MITM_VENV/bin/mitmdump" ]; then
  python3 -m venv "$MITM_VENV" && "$MITM_VENV/bin/pip" install -q mitmproxy
fi

ulimit -n 65536 || true
if [ -z "${BIN:-}" ]; then
  SCRATCH=${SCRATCH:-Benchmarks/.build}
  CONFIG=${CONFIG:-release}
  swift build -c "$CONFIG" --package-path Benchmarks --scratch-path "$SCRATCH" --product portcullis-gateway-bench >/dev/null
  BIN=$SCRATCH/$CONFIG/portcullis-gateway-bench
fi
WORK=$(mktemp -d /tmp/portcullis-inspection-bench.XXXXXX)
chmod 755 "$WORK"

. Benchmarks/bench-lib.sh
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

gcc -O2 -Wall -o "$WORK/pctls" Benchmarks/LoadGen/pctls.c -lssl -lcrypto

# Certificates: the origin's CA and its leaf for localhost; a CA each for Squid and mitmproxy.
ca() { # NAME: $WORK/NAME-ca.pem and .key, P-256
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=bench $1 CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$WORK/$1-ca.key" -out "$WORK/$1-ca.pem" 2>/dev/null
}
ca origin; ca squid; ca mitmproxy
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
  -keyout "$WORK/origin.key" -out "$WORK/origin.csr" 2>/dev/null
printf "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n" >"$WORK/origin.ext"
openssl x509 -req -in "$WORK/origin.csr" -CA "$WORK/origin-ca.pem" -CAkey "$WORK/origin-ca.key" -CAcreateserial -days 2 \
  -extfile "$WORK/origin.ext" -out "$WORK/origin.pem" 2>/dev/null

ORIGIN_PORT=$(free_port)
"${LOAD_PIN[@]}" "$WORK/pctls" origin --port "$ORIGIN_PORT" --cert "$WORK/origin.pem" --key "$WORK/origin.key" \
  >"$WORK/origin.out" 2>&1 & PIDS+=($!)
wait_port "$ORIGIN_PORT"
TARGET="localhost:$ORIGIN_PORT"
echo "127.0.0.1 localhost" >"$WORK/hosts"

# Portcullis: allowlist mode, one allow rule, every attempt to a JSON-lines audit log; one
# process terminating TLS to localhost (inspect: true, its sandbox CA written to a file, the
# origin's CA trusted as --upstream-ca), one leaving it opaque.
PC_PORT=$(free_port)
"${PROXY_PIN[@]}" "$BIN" serve --port "$PC_PORT" "${PC_ARGS[@]}" --allow localhost --hosts "$WORK/hosts" \
  --audit "$WORK/portcullis-audit.jsonl" --inspect --ca-out "$WORK/portcullis-ca.pem" --upstream-ca "$WORK/origin-ca.pem" \
  >"$WORK/portcullis.out" 2>&1 & PC_PID=$!; PIDS+=($PC_PID)
PCO_PORT=$(free_port)
"${PROXY_PIN[@]}" "$BIN" serve --port "$PCO_PORT" "${PC_ARGS[@]}" --allow localhost --hosts "$WORK/hosts" \
  --audit "$WORK/portcullis-opaque-audit.jsonl" >"$WORK/portcullis-opaque.out" 2>&1 & PCO_PID=$!; PIDS+=($PCO_PID)
wait_port "$PC_PORT"; wait_port "$PCO_PORT"

# Squid: one process, two ports: ssl-bump (peek at the ClientHello, then bump, leaves from
# its CA generated by security_file_certgen and cached), and a plain CONNECT port (opaque).
# The same one-host allowlist, access log on, no cache; the upstream leg verified against
# the origin's CA.
if compare squid; then
SQ_PORT=$(free_port); SQO_PORT=$(free_port)
"$CERTGEN" -c -s "$WORK/squid-ssl-db" -M 16MB >/dev/null
# Squid runs as the user proxy: its logs and pid file go in a directory of its own.
mkdir -p "$WORK/squid"
chown -R proxy:proxy "$WORK/squid-ssl-db" "$WORK/squid" 2>/dev/null || true
cat >"$WORK/squid.conf" <<CONF
http_port 127.0.0.1:$SQ_PORT ssl-bump tls-cert=$WORK/squid-ca.pem tls-key=$WORK/squid-ca.key generate-host-certificates=on dynamic_cert_mem_cache_size=16MB
http_port 127.0.0.1:$SQO_PORT
sslcrtd_program $CERTGEN -s $WORK/squid-ssl-db -M 16MB
sslcrtd_children 4 startup=1 idle=1
acl step1 at_step SslBump1
ssl_bump peek step1
ssl_bump bump all
tls_outgoing_options cafile=$WORK/origin-ca.pem
acl bench dstdomain localhost
http_access allow bench
http_access deny all
access_log stdio:$WORK/squid/access.log
cache_log $WORK/squid/cache.log
hosts_file $WORK/hosts
dns_nameservers 127.0.0.1
cache deny all
cache_mem 8 MB
pid_filename $WORK/squid/squid.pid
coredump_dir $WORK/squid
max_filedescriptors 65536
shutdown_lifetime 1 seconds
CONF
chmod 644 "$WORK"/squid-ca.* 
"${PROXY_PIN[@]}" "$SQUID" -N -f "$WORK/squid.conf" >"$WORK/squid.out" 2>&1 & SQ_PID=$!; PIDS+=($SQ_PID)
wait_port "$SQ_PORT"; wait_port "$SQO_PORT"
fi

# mitmproxy (mitmdump): one process intercepting, one with every host ignored (TLS passed
# through). The one-host policy is an addon (403 for any other host); each flow is printed
# to its log (flow_detail 1, mitmdump's default).
if compare mitmproxy; then
mkdir -p "$WORK/mitm-conf"
cat "$WORK/mitmproxy-ca.key" "$WORK/mitmproxy-ca.pem" >"$WORK/mitm-conf/mitmproxy-ca.pem"
cat >"$WORK/mitm-policy.py" <<'PY'
from mitmproxy import http

ALLOWED = "localhost"


def http_connect(flow):
    if flow.request.host != ALLOWED:
        flow.response = http.Response.make(403, b"blocked by the benchmark's policy\n")


def request(flow):
    if flow.request.host != ALLOWED:
        flow.response = http.Response.make(403, b"blocked by the benchmark's policy\n")
PY
MITM_ARGS=(--listen-host 127.0.0.1 --set confdir="$WORK/mitm-conf" --set ssl_verify_upstream_trusted_ca="$WORK/origin-ca.pem"
           -s "$WORK/mitm-policy.py" --set flow_detail=1 --set connection_strategy=lazy)
MI_PORT=$(free_port); MIO_PORT=$(free_port)
"${PROXY_PIN[@]}" "$MITM_VENV/bin/mitmdump" "${MITM_ARGS[@]}" --listen-port "$MI_PORT" >"$WORK/mitmproxy.log" 2>&1 & MI_PID=$!; PIDS+=($MI_PID)
"${PROXY_PIN[@]}" "$MITM_VENV/bin/mitmdump" "${MITM_ARGS[@]}" --listen-port "$MIO_PORT" --ignore-hosts '.*' \
  >"$WORK/mitmproxy-opaque.log" 2>&1 & MIO_PID=$!; PIDS+=($MIO_PID)
wait_port "$MI_PORT"; wait_port "$MIO_PORT"
fi

run() { "${LOAD_PIN[@]}" "$WORK/pctls" "$@" --target "$TARGET" | tee -a "$RESULTS"; }
labels="direct portcullis portcullis-opaque"
compare squid && labels="$labels squid squid-opaque"
compare mitmproxy && labels="$labels mitmproxy mitmproxy-opaque"
for who in $labels; do
  case $who in
    direct) P=(); PID=""; CA=$WORK/origin-ca.pem;;
    portcullis) P=(--proxy "127.0.0.1:$PC_PORT"); PID=$PC_PID; CA=$WORK/portcullis-ca.pem;;
    portcullis-opaque) P=(--proxy "127.0.0.1:$PCO_PORT"); PID=$PCO_PID; CA=$WORK/origin-ca.pem;;
    squid) P=(--proxy "127.0.0.1:$SQ_PORT"); PID=$SQ_PID; CA=$WORK/squid-ca.pem;;
    squid-opaque) P=(--proxy "127.0.0.1:$SQO_PORT"); PID=$SQ_PID; CA=$WORK/origin-ca.pem;;
    mitmproxy) P=(--proxy "127.0.0.1:$MI_PORT"); PID=$MI_PID; CA=$WORK/mitmproxy-ca.pem;;
    mitmproxy-opaque) P=(--proxy "127.0.0.1:$MIO_PORT"); PID=$MIO_PID; CA=$WORK/origin-ca.pem;;
  esac
  # One connection first (Squid generates its leaf then, mitmproxy too): not measured.
  "${LOAD_PIN[@]}" "$WORK/pctls" conn "${P[@]}" --target "$TARGET" --cafile "$CA" --concurrency 1 --seconds 0.2 >/dev/null
  measured http "${P[@]}" --cafile "$CA" --label "$who" --concurrency "$CONC" --seconds "$SECONDS_PER"
  measured conn "${P[@]}" --cafile "$CA" --label "$who" --concurrency "$CONC" --seconds "$SECONDS_PER"
  if [ -n "$PID" ]; then
    sleep 1
    run idle "${P[@]}" --cafile "$CA" --label "$who" --concurrency "$IDLE" --pid "$PID"
    sleep 2
  fi
done

echo
echo "log lines: portcullis $(wc -l <"$WORK/portcullis-audit.jsonl") (+ opaque $(wc -l <"$WORK/portcullis-opaque-audit.jsonl")), squid $( [ -f "$WORK/squid/access.log" ] && wc -l <"$WORK/squid/access.log" || echo -), mitmproxy $( [ -f "$WORK/mitmproxy.log" ] && wc -l <"$WORK/mitmproxy.log" || echo -) (+ opaque $( [ -f "$WORK/mitmproxy-opaque.log" ] && wc -l <"$WORK/mitmproxy-opaque.log" || echo -))"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def get(label, mode, key):
    for r in rows:
        if r["label"] == label and r["mode"] == mode:
            return r.get(key)
    return None
metrics = [("keep-alive HTTPS req/s", "http", "rate"), ("  request p50 ms", "http", "p50_ms"),
           ("  request p99 ms", "http", "p99_ms"), ("  proxy CPU us per request", "httpcpu", "us_per"),
           ("new TLS connections/s", "conn", "rate"), ("  connection p50 ms", "conn", "p50_ms"),
           ("  connection p99 ms", "conn", "p99_ms"), ("  proxy CPU us per connection", "conncpu", "us_per"),
           ("  load CPU us per connection", "conn", "load_cpu_us"), ("KiB per idle connection", "idle", "kib_per_conn")]
for title, suffix in (("terminated", ""), ("opaque tunnel (TLS end to end)", "-opaque")):
    labels = ["direct", "portcullis" + suffix, "squid" + suffix, "mitmproxy" + suffix]
    print(f"\n{title}")
    print(f"{'':32}" + "".join(f"{l.replace(suffix, '') if suffix else l:>12}" for l in labels) + f"{'pc/squid':>10}{'pc/mitm':>10}")
    for name, mode, key in metrics:
        vals = [get(l, mode, key) for l in labels]
        def ratio(a, b): return f"{a/b:.2f}x" if a is not None and b else "-"
        cells = "".join(f"{v:>12.1f}" if isinstance(v, (int, float)) else f"{'-':>12}" for v in vals)
        print(f"{name:32}{cells}{ratio(vals[1], vals[2]):>10}{ratio(vals[1], vals[3]):>10}")
fails = [(r["label"], r["mode"], r["failures"]) for r in rows if r.get("failures")]
if fails: print("failures:", fails)
PY
echo "(work files in $WORK)"
