"""A private network for the transparent listener: used by test_transparent.py and by
Benchmarks/Transparent/bench.py. Root only; run it inside `unshare --net --mount`.

Topology, all created here (names and addresses are the test's own):

    client netns ── veth pct-c (10.200.0.1/24 | 10.200.0.2/24) ── this namespace (gateway)
    "internet" netns ── veth pct-i (10.201.0.1/24 | 10.201.0.2/24, plus 198.51.100.10 and .20)

In this namespace an nftables table redirects every TCP connection arriving from pct-c to
the transparent listener (`redirect to :PORT`), and drops 198.51.100.0/24 on every
interface other than pct-i (the documentation range lives only on the veth made here).
The client netns drops it on loopback too. `ensure_private()` aborts when this process
is still in the host's network namespace.
"""
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLIENT_NS = f"pct-{os.getpid()}-c"
INTERNET_NS = f"pct-{os.getpid()}-i"
GATEWAY_ADDR = "10.200.0.1"
CLIENT_ADDR = "10.200.0.2"
ALLOWED_ADDR = "198.51.100.10"
DENIED_ADDR = "198.51.100.20"
DOC_RANGE = "198.51.100.0/24"


def sh(*args, check=True, ns=None, **kwargs):
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def ensure_private():
    """Abort unless this process has a network namespace of its own (not PID 1's)."""
    mine = os.stat("/proc/self/ns/net").st_ino
    others = []
    for pid in (1, os.getppid()):
        try:
            others.append(os.stat(f"/proc/{pid}/ns/net").st_ino)
        except OSError:
            pass
    links = sh("ip", "-o", "link", "show").stdout.strip().splitlines()
    if not others or mine in others or len(links) != 1:
        raise SystemExit("refusing to run: not inside a private network namespace (use unshare --net --mount)")


def up():
    """Creates both namespaces, the veths, the routes and the drop rules (not the redirect)."""
    ensure_private()  # (a fresh namespace: only lo, and not the parent's)
    sh("ip", "link", "set", "lo", "up")
    for ns in (CLIENT_NS, INTERNET_NS):
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "set", "lo", "up", ns=ns)
    sh("ip", "link", "add", "pct-c", "type", "veth", "peer", "name", "pct-c-peer")
    sh("ip", "link", "set", "pct-c-peer", "netns", CLIENT_NS)
    sh("ip", "addr", "add", f"{GATEWAY_ADDR}/24", "dev", "pct-c")
    sh("ip", "link", "set", "pct-c", "up")
    sh("ip", "addr", "add", f"{CLIENT_ADDR}/24", "dev", "pct-c-peer", ns=CLIENT_NS)
    sh("ip", "link", "set", "pct-c-peer", "up", ns=CLIENT_NS)
    sh("ip", "route", "add", "default", "via", GATEWAY_ADDR, ns=CLIENT_NS)
    sh("ip", "link", "add", "pct-i", "type", "veth", "peer", "name", "pct-i-peer")
    sh("ip", "link", "set", "pct-i-peer", "netns", INTERNET_NS)
    sh("ip", "addr", "add", "10.201.0.1/24", "dev", "pct-i")
    sh("ip", "link", "set", "pct-i", "up")
    for a in ("10.201.0.2/24", f"{ALLOWED_ADDR}/32", f"{DENIED_ADDR}/32"):
        sh("ip", "addr", "add", a, "dev", "pct-i-peer", ns=INTERNET_NS)
    sh("ip", "link", "set", "pct-i-peer", "up", ns=INTERNET_NS)
    sh("ip", "route", "add", "default", "via", "10.201.0.1", ns=INTERNET_NS)
    sh("ip", "route", "add", DOC_RANGE, "via", "10.201.0.2")
    # The documentation range is reachable only through the veth made here.
    nft(f"""
table ip pctest_guard {{
  chain output_guard {{ type filter hook output priority 0; oifname != "pct-i" ip daddr {DOC_RANGE} drop; }}
  chain forward_guard {{ type filter hook forward priority 0; policy drop; }}
}}""")
    nft(f"""
table ip pctest_client {{
  chain output_guard {{ type filter hook output priority 0; oifname "lo" ip daddr {DOC_RANGE} drop; }}
}}""", ns=CLIENT_NS)
    # Abort if anything is not up.
    for ns, dev in ((None, "pct-c"), (None, "pct-i"), (CLIENT_NS, "pct-c-peer"), (INTERNET_NS, "pct-i-peer")):
        out = sh("ip", "link", "show", "dev", dev, ns=ns).stdout
        if "LOWER_UP" not in out:
            raise SystemExit(f"namespace link {dev} is not up: {out}")


def redirect(port, exempt_port=None):
    """Redirects the client's TCP to the transparent listener on `port`; `exempt_port` on
    the gateway's own address is left alone (the CONNECT proxy, for the benchmark)."""
    exempt = f"ip daddr {GATEWAY_ADDR} tcp dport {exempt_port} accept;" if exempt_port else ""
    nft(f"""
table ip pctest_redirect {{
  chain prerouting_redirect {{ type nat hook prerouting priority dstnat; iifname "pct-c" {exempt} iifname "pct-c" meta l4proto tcp redirect to :{port}; }}
}}""")


def nft(ruleset, ns=None):
    sh("nft", "-f", "-", ns=ns, input=ruleset)


def down():
    for ns in (CLIENT_NS, INTERNET_NS):
        sh("ip", "netns", "del", ns, check=False)


def make_certificates(directory):
    """A CA and one leaf for allowed.test and denied.test (openssl, made now)."""
    d = pathlib.Path(directory)
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=pctest CA",
       "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))
    sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=allowed.test",
       "-keyout", str(d / "leaf.key"), "-out", str(d / "leaf.csr"))
    (d / "ext.cnf").write_text("subjectAltName=DNS:allowed.test,DNS:denied.test\n")
    sh("openssl", "x509", "-req", "-in", str(d / "leaf.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
       "-CAcreateserial", "-days", "1", "-extfile", str(d / "ext.cnf"), "-out", str(d / "leaf.pem"))
    return d / "ca.pem"


SERVER = r"""
import http.server, socketserver, ssl, sys, threading
cert, key = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("hello from " + self.server.server_address[0] + "\n").encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
class T(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            b = self.request.recv(4096)
            if not b: return
            self.request.sendall(b)
class E(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(cert, key)
servers = []
for addr in sys.argv[3:]:
    s = T((addr, 443), H); s.socket = ctx.wrap_socket(s.socket, server_side=True); servers.append(s)
    servers.append(T((addr, 80), H))
    servers.append(E((addr, 7), Echo))
for s in servers: threading.Thread(target=s.serve_forever, daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""


def start_servers(directory):
    """HTTPS on :443, HTTP on :80 and TCP echo on :7 at both documentation addresses, inside the internet netns."""
    d = pathlib.Path(directory)
    (d / "server.py").write_text(SERVER)
    p = subprocess.Popen(["ip", "netns", "exec", INTERNET_NS, "python3", str(d / "server.py"), str(d / "leaf.pem"),
                          str(d / "leaf.key"), ALLOWED_ADDR, DENIED_ADDR], stdout=subprocess.PIPE, text=True)
    if p.stdout.readline().strip() != "ready":
        raise RuntimeError("the test servers did not start")
    return p


class Serve:
    """`portcullis serve` with every listener on a free port, the transparent one on the wildcard."""

    def __init__(self, directory, admin, binary=None, proxy="127.0.0.1:0", names=None, dns="127.0.0.1:0", extra_args=()):
        """`names`: the hosts file's {name: address} (default allowed.test and denied.test on
        the two documentation addresses, and on 2001:db8::10 / ::20)."""
        d = pathlib.Path(directory)
        if names is None:
            hosts = (f"{ALLOWED_ADDR} allowed.test\n{DENIED_ADDR} denied.test\n"
                     f"2001:db8::10 allowed.test\n2001:db8::20 denied.test\n")
        else:
            hosts = "".join(f"{address} {name}\n" for name, address in names.items())
        (d / "hosts").write_text(hosts)
        binary = binary or ROOT / ".build" / "debug" / "portcullis"
        self.admin = admin
        self.log = open(d / "serve.log", "ab")
        self.proc = subprocess.Popen(
            [str(binary), "serve", "--data-dir", str(d / "data"), "--api", "127.0.0.1:0", "--proxy", proxy,
             "--socks", "127.0.0.1:0", "--dns", dns, "--transparent", "0.0.0.0:0",
             "--hosts-file", str(d / "hosts"), "--no-system-resolver", "--guard-exempt", DOC_RANGE,
             "--admin-token", admin, *extra_args], stdout=subprocess.PIPE, stderr=self.log, text=True)
        lines = []
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"serve exited with {self.proc.returncode}: {(d / 'serve.log').read_text()[-2000:]}")
                continue
            lines.append(line)
            if line.startswith("Point a sandbox"):
                break
        text = "".join(lines)
        self.api = re.search(r"API \(and dashboard\)\s+(http://\S+)", text).group(1)
        self.proxy_port = int(re.search(r"HTTP/CONNECT proxy\s+http://\S+:(\d+)", text).group(1))
        self.transparent_port = int(re.search(r"Transparent listener\s+tcp://\S+:(\d+)", text).group(1))
        self.dns_port = int(re.search(r"DNS gateway\s+dns://\S+:(\d+)", text).group(1))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def run_scenario(script, directory, timeout):
    """Runs `python3 SCRIPT DIRECTORY` (a scenario beside this file) in a fresh network and
    mount namespace and returns the DIRECTORY/results.json it wrote; raises AssertionError
    with its output and the end of serve's log when it fails."""
    d = pathlib.Path(directory)
    here = pathlib.Path(__file__).resolve().parent
    p = subprocess.run(["unshare", "--net", "--mount", sys.executable, str(here / script), str(d)],
                       capture_output=True, text=True, timeout=timeout, cwd=here)
    if p.returncode != 0:
        log = (d / "serve.log").read_text()[-3000:] if (d / "serve.log").exists() else ""
        raise AssertionError(f"scenario failed ({p.returncode}):\n{p.stdout}\n{p.stderr}\n{log}")
    return json.loads((d / "results.json").read_text())
