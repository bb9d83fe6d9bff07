"""`portcullis run` end to end (root): a sandbox that cannot escape.

The test builds its own "internet": a network namespace (`pct-inet-<pid>`) joined to this
namespace by a veth, with servers on documentation-range addresses assigned inside it, a
route to them over that veth only, and an nftables table here that drops those ranges on
every other interface. It aborts if that namespace is not up. Names resolve only through
the gateway's hosts file (A and AAAA).

Two groups of tests:
- runner mechanics, against stand-in listeners (a TCP server on the transparent port that
  records each connection and its SO_ORIGINAL_DST, a UDP/TCP server on the DNS port): TCP
  and DNS from the sandbox are steered there, everything else dropped, spoofing dropped,
  root inside the namespace gets nowhere, cleanup complete, exit statuses passed on. These
  need only `serve`'s API.
- the Show list of issue 6 with the real DNS gateway and transparent listener of `serve`
  (`test_gateway_*`).

Network rule: nothing here leaves loopback, the test's own namespaces, or the addresses it
assigns inside them; the tests refuse to run in a namespace that has any route of its own
(scripts/test runs them in a private one with only loopback up).
"""
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from conftest import ADMIN, BINARY, Gateway

INET_NS = f"pct-inet-{os.getpid()}"
UPLINK = "pct-up-h"          # host end of the internet veth
UPLINK_PEER = "pct-up-i"
UPLINK_HOST, UPLINK_INET = "198.51.100.1", "198.51.100.2"
ALLOWED, DENIED, RAW_ALLOWED, RAW_OTHER, RESOLVER = "203.0.113.10", "203.0.113.20", "203.0.113.30", "203.0.113.31", "203.0.113.53"
ALLOWED6 = "2001:db8::10"
DOC_RANGES4 = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"]
GUARD_TABLE = "pct_guard"
STATE_DIR = "/run/portcullis/runs"
CA_DIR = "/run/portcullis-ca"


def sh(*args, check=True, timeout=30, input=None):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, input=input)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} exited {p.returncode}: {p.stderr}")
    return p


def skip_reason():
    if os.geteuid() != 0:
        return "portcullis run needs root (CI runs these as root inside scripts/test's private namespace)"
    for tool in ["ip", "nft", "setpriv", "openssl"]:
        if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
            return f"`{tool}` is not installed (scripts/test installs it)"
    routes = json.loads(sh("ip", "-j", "route", check=False).stdout or "[]")
    if any(r.get("dev") != UPLINK for r in routes):
        return ("this network namespace has routes of its own; run inside a private one "
                "(scripts/test does: unshare --net with only loopback up)")
    return None


pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")


# --------------------------------------------------------------------------- the internet

INET_SERVER = r'''
import json, socket, ssl, sys, threading, http.server
log = open(sys.argv[1], "a", buffering=1)
cert = sys.argv[2]
def note(**kw): log.write(json.dumps(kw) + "\n")
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        note(kind="https", local=self.server.server_address[0], host=self.headers.get("Host"))
        body = f"hello from {self.server.server_address[0]}\n".encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
class TLS(http.server.ThreadingHTTPServer):
    def get_request(self):
        s, a = super().get_request()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(cert)
        return ctx.wrap_socket(s, server_side=True), a
for addr in ["203.0.113.10", "203.0.113.20"]:
    threading.Thread(target=TLS((addr, 443), H).serve_forever, daemon=True).start()
v6 = http.server.ThreadingHTTPServer
class V6(TLS): address_family = socket.AF_INET6
threading.Thread(target=V6(("2001:db8::10", 443), H).serve_forever, daemon=True).start()
def raw(addr):
    t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind((addr, 7000)); t.listen(64)
    while True:
        c, a = t.accept(); note(kind="tcp", local=addr, peer=a[0]); c.sendall(b"inet-raw\n"); c.close()
def udp(addr, port):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((addr, port))
    while True:
        d, a = u.recvfrom(4096); note(kind="udp", local=addr, port=port, peer=a[0]); u.sendto(b"inet-udp", a)
for addr in ["203.0.113.30", "203.0.113.31"]:
    threading.Thread(target=raw, args=(addr,), daemon=True).start()
threading.Thread(target=udp, args=("203.0.113.30", 9999), daemon=True).start()
threading.Thread(target=udp, args=("203.0.113.53", 53), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
'''


class Internet:
    """The test's internet namespace, its servers and the host-side guard table."""

    def __init__(self, tmp):
        self.tmp = pathlib.Path(tmp)
        self.log = self.tmp / "inet.log"
        self.log.write_text("")
        self.cert = self.tmp / "inet.pem"
        sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=allowed.test",
           "-addext", "subjectAltName=DNS:allowed.test,DNS:denied.test", "-keyout", self.cert, "-out", self.cert)
        sh("ip", "link", "set", "lo", "up")
        sh("ip", "netns", "add", INET_NS)
        sh("ip", "link", "add", UPLINK, "type", "veth", "peer", "name", UPLINK_PEER, "netns", INET_NS)
        sh("ip", "addr", "add", f"{UPLINK_HOST}/30", "dev", UPLINK)
        sh("ip", "link", "set", UPLINK, "up")
        sh("ip", "-n", INET_NS, "link", "set", "lo", "up")
        sh("ip", "-n", INET_NS, "addr", "add", f"{UPLINK_INET}/30", "dev", UPLINK_PEER)
        for a in [ALLOWED, DENIED, RAW_ALLOWED, RAW_OTHER, RESOLVER]:
            sh("ip", "-n", INET_NS, "addr", "add", f"{a}/32", "dev", "lo")
        sh("ip", "-n", INET_NS, "addr", "add", f"{ALLOWED6}/128", "dev", "lo")
        sh("ip", "-n", INET_NS, "link", "set", UPLINK_PEER, "up")
        sh("ip", "-n", INET_NS, "route", "add", "default", "via", UPLINK_HOST)
        sh("ip", "route", "add", "203.0.113.0/24", "via", UPLINK_INET, "dev", UPLINK)
        # The documentation ranges go out over the uplink only, never over any other interface.
        sh("nft", "-f", "-", input=textwrap.dedent(f"""
            table inet {GUARD_TABLE} {{
                chain out {{
                    type filter hook output priority filter; policy accept;
                    oifname != "{UPLINK}" oifname != "lo" ip daddr {{ {", ".join(DOC_RANGES4)} }} drop
                    oifname != "{UPLINK}" oifname != "lo" ip6 daddr 2001:db8::/32 drop
                }}
                chain forward_drop {{
                    type filter hook forward priority filter; policy drop;
                }}
            }}
            """))
        self.proc = subprocess.Popen(["ip", "netns", "exec", INET_NS, sys.executable, "-c", INET_SERVER, str(self.log), str(self.cert)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"internet servers did not start: {self.proc.stderr.read()[-2000:]}")
        self.check_up()

    def check_up(self):
        """Aborts the run unless the namespace is up and its servers answer over the uplink."""
        names = sh("ip", "netns", "list").stdout
        if INET_NS not in names:
            pytest.exit(f"the test internet namespace {INET_NS} is not up", returncode=3)
        try:
            with socket.create_connection((RAW_ALLOWED, 7000), timeout=3) as s:
                if s.recv(100) != b"inet-raw\n":
                    raise OSError("wrong banner")
        except OSError as e:
            pytest.exit(f"the test internet {INET_NS} does not answer: {e}", returncode=3)
        self.log.write_text("")

    def hits(self):
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def close(self):
        self.proc.kill()
        self.proc.wait()
        sh("ip", "route", "del", "203.0.113.0/24", check=False)
        sh("ip", "link", "del", UPLINK, check=False)
        sh("ip", "netns", "del", INET_NS, check=False)
        sh("nft", "delete", "table", "inet", GUARD_TABLE, check=False)


@pytest.fixture(scope="module")
def internet(tmp_path_factory):
    net = Internet(tmp_path_factory.mktemp("internet"))
    yield net
    net.close()


# --------------------------------------------------------------------------- stand-ins

class StandIns:
    """A TCP server on the transparent port recording each connection's peer and
    SO_ORIGINAL_DST, and a DNS stand-in answering on UDP and TCP."""

    def __init__(self, host="127.0.0.1"):
        self.connections = []
        self.dns_queries = []
        self.tcp = socket.socket()
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((host, 0))
        self.tcp.listen(64)
        self.transparent_port = self.tcp.getsockname()[1]
        # The DNS stand-in needs one port for UDP and TCP both: a port free for UDP may be
        # taken for TCP, so try fresh ones until both binds succeed (bounded).
        for attempt in range(32):
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind((host, 0))
            self.dns_port = self.udp.getsockname()[1]
            self.dns_tcp = socket.socket()
            self.dns_tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.dns_tcp.bind((host, self.dns_port))
                break
            except OSError:
                self.udp.close()
                self.dns_tcp.close()
                if attempt == 31:
                    raise
        self.dns_tcp.listen(16)
        self.host = host
        for target in [self._tcp, self._udp, self._dns_tcp]:
            threading.Thread(target=target, daemon=True).start()

    @staticmethod
    def original_dst(conn):
        raw = conn.getsockopt(socket.SOL_IP, 80, 16)  # SO_ORIGINAL_DST
        return f"{socket.inet_ntoa(raw[4:8])}:{int.from_bytes(raw[2:4], 'big')}"

    def _tcp(self):
        while True:
            try:
                c, a = self.tcp.accept()
            except OSError:
                return
            self.connections.append({"peer": a[0], "original": self.original_dst(c)})
            c.sendall(b"standin-transparent\n")
            c.close()

    def _udp(self):
        while True:
            try:
                d, a = self.udp.recvfrom(4096)
            except OSError:
                return
            if a is None:  # the socket was shut down: recvfrom returns (b"", None)
                return
            self.dns_queries.append({"peer": a[0], "proto": "udp"})
            self.udp.sendto(b"standin-dns", a)

    def _dns_tcp(self):
        while True:
            try:
                c, a = self.dns_tcp.accept()
            except OSError:
                return
            self.dns_queries.append({"peer": a[0], "proto": "tcp"})
            c.sendall(b"standin-dns-tcp")
            c.close()

    def args(self):
        bind = "0.0.0.0" if self.host == "0.0.0.0" else self.host
        return ["--transparent", f"{bind}:{self.transparent_port}", "--dns", f"{bind}:{self.dns_port}"]

    def close(self):
        for s in [self.tcp, self.udp, self.dns_tcp]:
            s.close()


@pytest.fixture
def standins():
    s = StandIns()
    yield s
    s.close()


@pytest.fixture(scope="module")
def api(tmp_path_factory, internet):
    """`serve` for its API (sandboxes, source addresses); its own listeners are not used."""
    g = Gateway(tmp_path_factory.mktemp("api"))
    yield g
    g.stop()


# --------------------------------------------------------------------------- helpers

PROBE = r'''
import json, os, socket, sys
def tcp(host, port, send=b"", family=socket.AF_INET, src=None, timeout=3):
    try:
        s = socket.socket(family); s.settimeout(timeout)
        if src: s.bind((src, 0))
        s.connect((host, port))
        if send: s.sendall(send)
        return {"ok": True, "data": s.recv(200).decode(errors="replace")}
    except Exception as e:
        return {"ok": False, "error": str(e)}
def udp(host, port, src=None, timeout=2):
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(timeout)
        if src: s.bind((src, 0))
        s.sendto(b"probe", (host, port))
        return {"ok": True, "data": s.recvfrom(200)[0].decode(errors="replace")}
    except Exception as e:
        return {"ok": False, "error": str(e)}
def icmp(host):
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); s.settimeout(2)
        s.sendto(bytes([8, 0, 0xf7, 0xff, 0, 0, 0, 0]), (host, 0))
        return {"ok": True, "data": s.recvfrom(200)[0][20:21].hex()}
    except Exception as e:
        return {"ok": False, "error": str(e)}
resolv = open("/etc/resolv.conf").read()
nameserver = [l.split()[1] for l in resolv.splitlines() if l.startswith("nameserver")][0]
status = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
out = {"netns": os.environ.get("PORTCULLIS_NETNS"), "token": "PORTCULLIS_TOKEN" in os.environ, "uid": os.getuid(),
       "cap_eff": status["CapEff"].strip(), "cap_bnd": status["CapBnd"].strip(), "resolv": resolv, "nameserver": nameserver}
src = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] else None
out["tcp_far"] = tcp("203.0.113.31", 7000, src=src)
out["tcp_host"] = tcp(nameserver, 22, src=src)
out["dns_udp_other_resolver"] = udp("203.0.113.53", 53, src=src)
out["dns_udp_resolv"] = udp(nameserver, 53, src=src)
out["dns_tcp"] = tcp("203.0.113.53", 53, send=b"\x00\x01x", src=src)
out["udp_other"] = udp("203.0.113.30", 9999, src=src)
out["udp_dns_port_direct"] = udp(nameserver, int(sys.argv[2]), src=src) if len(sys.argv) > 2 else None
out["tcp6"] = tcp("2001:db8::10", 443, family=socket.AF_INET6)
out["icmp"] = icmp("203.0.113.30")
out["icmp_host"] = icmp(nameserver)
print("PROBE " + json.dumps(out), flush=True)
'''


def leftovers():
    """Everything runner-made in this namespace and on the shared file system."""
    found = []
    for ns in json.loads(sh("ip", "-j", "netns", "list").stdout or "[]"):
        if ns["name"].startswith("pc-"):
            found.append("netns " + ns["name"])
    for link in json.loads(sh("ip", "-j", "link").stdout or "[]"):
        if link["ifname"].startswith("pc-"):
            found.append("link " + link["ifname"])
    for item in json.loads(sh("nft", "-j", "list", "tables").stdout)["nftables"]:
        if "table" in item and item["table"]["name"].startswith("pc_"):
            found.append("table " + item["table"]["name"])
    if os.path.isdir("/etc/netns"):
        found += ["etc " + n for n in os.listdir("/etc/netns") if n.startswith("pc-")]
    if os.path.isdir(STATE_DIR):
        found += ["record " + n for n in os.listdir(STATE_DIR) if n.endswith(".json")]
    if os.path.isdir(CA_DIR):
        found += ["ca " + n for n in os.listdir(CA_DIR) if n.startswith("pc-")]
    return found


def run_args(gateway, *args):
    return [str(BINARY), "run", "--api", gateway.api, "--token", gateway.admin, *args]


def run(gateway, *args, timeout=90, env=None):
    p = subprocess.run(run_args(gateway, *args), capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, **(env or {})))
    return p.returncode, p.stdout, p.stderr


def probe(tmp_path, gateway, standins, *extra, src="", user_args=()):
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    status, out, err = run(gateway, *standins.args(), *user_args, *extra, "--", sys.executable, str(script), src, str(standins.dns_port))
    assert status == 0, f"run exited {status}: {err}"
    line = next((l for l in out.splitlines() if l.startswith("PROBE ")), None)
    assert line, f"no probe output: {out} {err}"
    return json.loads(line[6:]), err


def sandbox_addresses(gateway, sandbox_id):
    r = gateway.call("GET", f"/api/v1/sandboxes/{sandbox_id}")
    assert r.status_code == 200, r.text
    return r.json()["source_addresses"]


# --------------------------------------------------------------------------- mechanics

def test_tcp_and_dns_are_steered_to_the_listeners_and_everything_else_is_dropped(tmp_path, api, internet, standins):
    sbx = api.sandbox({"name": "mechanics"})
    result, _ = probe(tmp_path, api, standins, "--sandbox", sbx["id"])
    assert result["netns"] and result["netns"].startswith("pc-") and not result["token"]
    assert result["cap_eff"] == "0000000000000000" and result["cap_bnd"] == "0000000000000000", "no capabilities at all"
    assert f"nameserver {result['nameserver']}" in result["resolv"] and result["nameserver"].startswith("100.")

    assert result["tcp_far"] == {"ok": True, "data": "standin-transparent\n"}, "TCP to anywhere reaches the transparent listener"
    assert result["tcp_host"]["data"] == "standin-transparent\n", "even TCP to the host end: no host service is reachable"
    originals = [c["original"] for c in standins.connections]
    assert f"{RAW_OTHER}:7000" in originals and f"{result['nameserver']}:22" in originals, "the original destination is kept"
    sandbox_address = standins.connections[0]["peer"]
    assert all(c["peer"] == sandbox_address for c in standins.connections)

    assert result["dns_udp_other_resolver"] == {"ok": True, "data": "standin-dns"}, "DNS to any resolver goes to the DNS gateway"
    assert result["dns_udp_resolv"] == {"ok": True, "data": "standin-dns"}
    assert result["dns_tcp"] == {"ok": True, "data": "standin-dns-tcp"}, "DNS over TCP too"
    assert not result["udp_other"]["ok"], "other UDP gets nowhere"
    assert not result["udp_dns_port_direct"]["ok"], "the DNS gateway's own port is reachable only through port 53"
    assert not result["tcp6"]["ok"], "IPv6 gets nowhere"
    assert not result["icmp"]["ok"] and "not permitted" in result["icmp"]["error"], "no raw sockets for the command"
    assert internet.hits() == [], "nothing reached the internet directly"

    # The address was registered while the command ran, and is gone now.
    assert sandbox_address not in sandbox_addresses(api, sbx["id"])
    assert leftovers() == []


def test_wildcard_listeners_are_reached_by_redirect(tmp_path, api, internet):
    wild = StandIns("0.0.0.0")
    try:
        sbx = api.sandbox({})
        result, _ = probe(tmp_path, api, wild, "--sandbox", sbx["id"])
        assert result["tcp_far"]["data"] == "standin-transparent\n"
        assert result["dns_udp_other_resolver"]["data"] == "standin-dns"
        assert not result["udp_other"]["ok"]
        assert internet.hits() == []
    finally:
        wild.close()
    assert leftovers() == []


def test_the_address_is_registered_while_the_command_runs(tmp_path, api, internet, standins):
    sbx = api.sandbox({})
    script = tmp_path / "wait.sh"
    script.write_text("echo \"$PORTCULLIS_NETNS\"; read line\n")
    p = subprocess.Popen(run_args(api, *standins.args(), "--sandbox", sbx["id"], "--", "sh", str(script)),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        netns = p.stdout.readline().strip()
        assert netns.startswith("pc-")
        addresses = sandbox_addresses(api, sbx["id"])
        assert len(addresses) == 1 and addresses[0].startswith("100.")
        link = json.loads(sh("ip", "-j", "addr", "show", "dev", netns + "-h").stdout)[0]
        host_end = next(a for a in link["addr_info"] if a["family"] == "inet")
        assert host_end["prefixlen"] == 30
        assert open(f"/proc/sys/net/ipv4/ip_forward").read().strip() == "0", "forwarding untouched"
        rules = sh("nft", "list", "table", "inet", "pc_" + netns[3:]).stdout
        assert f"ip saddr != {addresses[0]} drop" in rules
    finally:
        p.communicate("go\n", timeout=60)
    assert p.returncode == 0
    assert sandbox_addresses(api, sbx["id"]) == []
    assert leftovers() == []


def test_root_inside_the_namespace_still_reaches_nothing(tmp_path, api, internet, standins):
    """Full CAP_NET_ADMIN inside the namespace: flush its routes and nftables, add
    addresses and routes, re-enable IPv6: the host side still steers or drops everything."""
    sbx = api.sandbox({})
    script = tmp_path / "wait.sh"
    script.write_text("echo \"$PORTCULLIS_NETNS\"; read line\n")
    probe_script = tmp_path / "probe.py"
    probe_script.write_text(PROBE)
    p = subprocess.Popen(run_args(api, *standins.args(), "--sandbox", sbx["id"], "--", "sh", str(script)),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ns = p.stdout.readline().strip()
        inside = ["ip", "netns", "exec", ns]
        link = ns + "-s"
        gateway_end = next(r["gateway"] for r in json.loads(sh("ip", "-n", ns, "-j", "route").stdout) if r["dst"] == "default")
        sh(*inside, "nft", "flush", "ruleset")
        sh(*inside, "ip", "route", "flush", "table", "main")
        sh(*inside, "ip", "addr", "add", "100.120.99.6/32", "dev", link)       # another sandbox's address, say
        sh(*inside, "ip", "addr", "add", "203.0.113.99/32", "dev", link)
        sh(*inside, "ip", "route", "add", gateway_end, "dev", link)
        sh(*inside, "ip", "route", "add", "default", "via", gateway_end, "dev", link)
        sh(*inside, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=0", f"net.ipv6.conf.{link}.disable_ipv6=0")
        sh(*inside, "ip", "-6", "addr", "add", "2001:db8::99/64", "dev", link, "nodad")
        sh(*inside, "ip", "-6", "route", "add", "default", "dev", link)
        before = len(standins.connections)
        for src in ["100.120.99.6", "203.0.113.99"]:
            out = sh(*inside, sys.executable, probe_script, src, standins.dns_port, timeout=120).stdout
            result = json.loads(out.split("PROBE ", 1)[1])
            for key in ["tcp_far", "tcp_host", "dns_udp_other_resolver", "dns_tcp", "udp_other", "tcp6"]:
                assert not result[key]["ok"], f"{key} from spoofed {src} got an answer: {result[key]}"
        assert len(standins.connections) == before, "spoofed sources never reach a listener"
        # The right source, with the namespace's own routes gone: still only the stand-ins.
        out = sh(*inside, sys.executable, probe_script, "", standins.dns_port, timeout=120).stdout
        result = json.loads(out.split("PROBE ", 1)[1])
        assert result["tcp_far"]["data"] == "standin-transparent\n"
        assert result["dns_udp_other_resolver"]["data"] == "standin-dns"
        assert not result["udp_other"]["ok"] and not result["tcp6"]["ok"]
        assert not result["icmp"]["ok"] and not result["icmp_host"]["ok"], "ICMP gets no answer, with raw sockets too"
        assert internet.hits() == [], "nothing reached the internet"
    finally:
        p.communicate("go\n", timeout=60)
    assert p.returncode == 0
    assert leftovers() == []


def test_exit_status_is_passed_on(tmp_path, api, internet, standins):
    sbx = api.sandbox({})
    assert run(api, *standins.args(), "--sandbox", sbx["id"], "--", "sh", "-c", "exit 7")[0] == 7
    assert run(api, *standins.args(), "--sandbox", sbx["id"], "--", "sh", "-c", "kill -TERM $$")[0] == 143
    status, _, err = run(api, *standins.args(), "--sandbox", sbx["id"], "--", "/nonexistent/command")
    assert status == 127, err
    assert leftovers() == []


def test_signals_are_forwarded_and_everything_is_removed(tmp_path, api, internet, standins):
    sbx = api.sandbox({})
    script = tmp_path / "trap.sh"
    script.write_text("trap 'echo got-term; exit 42' TERM\necho ready\nwhile :; do sleep 0.1; done\n")
    p = subprocess.Popen(run_args(api, *standins.args(), "--sandbox", sbx["id"], "--", "sh", str(script)),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 42, err
    assert "got-term" in out
    assert leftovers() == []


def test_new_sandbox_is_deleted_at_exit_unless_kept(tmp_path, api, internet, standins):
    before = {s["id"] for s in api.call("GET", "/api/v1/sandboxes").json()["items"]}
    status, out, err = run(api, *standins.args(), "--new", "--allow", "allowed.test", "--", "sh", "-c", "echo $PORTCULLIS_NETNS")
    assert status == 0, err
    after = {s["id"] for s in api.call("GET", "/api/v1/sandboxes").json()["items"]}
    assert after == before, "the --new sandbox is deleted"
    status, out, err = run(api, *standins.args(), "--new", "--keep", "--name", "kept", "--", "true")
    assert status == 0, err
    kept = [s for s in api.call("GET", "/api/v1/sandboxes").json()["items"] if s["id"] not in before]
    assert len(kept) == 1 and kept[0]["name"] == "kept" and kept[0]["source_addresses"] == []
    assert leftovers() == []


def test_kill_9_of_the_runner_kills_the_command_and_the_next_run_cleans_up(tmp_path, api, internet, standins):
    sbx = api.sandbox({})
    script = tmp_path / "pid.sh"
    script.write_text("echo $$ $PORTCULLIS_NETNS\nwhile :; do sleep 0.1; done\n")
    p = subprocess.Popen(run_args(api, *standins.args(), "--sandbox", sbx["id"], "--", "sh", str(script)),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pid, ns = p.stdout.readline().split()
    address = sandbox_addresses(api, sbx["id"])[0]
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=10)
    deadline = time.time() + 10
    while os.path.exists(f"/proc/{pid}") and time.time() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}"), "the command dies with the runner"
    left = leftovers()
    assert f"netns {ns}" in left and f"table pc_{ns[3:]}" in left and f"link {ns}-h" in left

    other = api.sandbox({})
    status, out, err = run(api, *standins.args(), "--sandbox", other["id"], "--", "sh", "-c", "echo $PORTCULLIS_NETNS; ls /run/netns")
    assert status == 0, err
    assert ns not in out, "the stale namespace was gone once the next run had started"
    assert "no longer running" in err
    assert leftovers() == []
    assert address not in sandbox_addresses(api, sbx["id"]), "the crashed run's registration is removed"


def test_an_address_left_registered_without_a_record_is_reclaimed(tmp_path, api, internet, standins):
    sbx = api.sandbox({})
    script = tmp_path / "pid.sh"
    script.write_text("echo $PORTCULLIS_NETNS\nwhile :; do sleep 0.1; done\n")
    p = subprocess.Popen(run_args(api, *standins.args(), "--sandbox", sbx["id"], "--", "sh", str(script)),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ns = p.stdout.readline().strip()
    address = sandbox_addresses(api, sbx["id"])[0]
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=10)
    os.unlink(f"{STATE_DIR}/{ns}.json")  # the record is lost too: only names on the host remain

    other = api.sandbox({})
    script2 = tmp_path / "addr.sh"
    script2.write_text("ip -4 -o addr show scope global\n")
    status, out, err = run(api, *standins.args(), "--sandbox", other["id"], "--", "sh", str(script2))
    assert status == 0, err
    assert "no record" in err, err
    assert f"{address}/30" in out, "the same address is handed out again"
    assert "reclaimed" in err and sbx["id"] in err
    assert address not in sandbox_addresses(api, sbx["id"])
    assert leftovers() == []


def test_the_command_runs_as_the_given_user(tmp_path, api, internet, standins):
    sbx = api.sandbox({})
    status, out, err = run(api, *standins.args(), "--sandbox", sbx["id"], "--user", "nobody", "--",
                           "sh", "-c", "id -u; grep -E '^Cap(Eff|Bnd)' /proc/self/status")
    assert status == 0, err
    lines = out.split()
    assert lines[0] == str(int(sh("id", "-u", "nobody").stdout))
    assert "0000000000000000" in out and "CapBnd:\t0000000000000000" in out
    status, out, err = run(api, *standins.args(), "--sandbox", sbx["id"], "--", "id", "-u", env={"SUDO_USER": "nobody"})
    assert status == 0 and out.strip() == lines[0], "$SUDO_USER is the default"


def test_the_command_gets_the_sandbox_ca_bundle_it_can_read_but_not_change(tmp_path, api, internet, standins):
    sbx = api.sandbox({})
    script = ('for v in SSL_CERT_FILE REQUESTS_CA_BUNDLE CURL_CA_BUNDLE NODE_EXTRA_CA_CERTS GIT_SSL_CAINFO; do eval "echo $v=\\$$v"; done; '
              'stat -c "mode %a %u:%g" "$SSL_CERT_FILE" "$(dirname "$SSL_CERT_FILE")"; '
              'if (echo x >> "$SSL_CERT_FILE") 2>/dev/null; then echo writable; else echo read-only; fi; '
              'echo BUNDLE; cat "$SSL_CERT_FILE"')
    status, out, err = run(api, *standins.args(), "--sandbox", sbx["id"], "--user", "nobody", "--", "sh", "-c", script,
                           env={"SSL_CERT_FILE": "/etc/host-bundle.pem"})
    assert status == 0, err
    head, bundle = out.split("BUNDLE\n", 1)
    lines = head.splitlines()
    path = lines[0].split("=", 1)[1]
    assert path.startswith(CA_DIR + "/pc-") and path.endswith("/ca-bundle.pem"), "the run's own bundle replaces the caller's"
    assert lines[:5] == [f"{v}={path}" for v in ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO"]]
    nobody_gid = int(sh("id", "-g", "nobody").stdout)
    assert lines[5] == f"mode 640 0:{nobody_gid}" and lines[6] == f"mode 750 0:{nobody_gid}"
    assert lines[7] == "read-only"
    ca = api.call("GET", f"/api/v1/sandboxes/{sbx['id']}/ca.pem").text
    assert bundle.rstrip().endswith(ca.rstrip()), "the sandbox's CA ends the bundle"
    assert bundle.count("-----BEGIN CERTIFICATE-----") >= 1
    assert not os.path.exists(os.path.dirname(path)), "removed when the run ends"
    assert leftovers() == []


def test_bad_input_and_refusals_have_clear_errors(tmp_path, api, internet, standins):
    status, _, err = run(api, "--new")
    assert status == 2 and "after --" in err
    status, _, err = run(api, "--sandbox", "sbx_nosuchsandbox", *standins.args(), "--", "true")
    assert status == 1 and "not found" in err
    status, _, err = run(api, "--new", "--user", "no-such-user-x", *standins.args(), "--", "true")
    assert status == 2 and "no such user" in err
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(BINARY), "run", "--new", "--", "true"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "needs root" in p.stderr
    assert leftovers() == []


# --------------------------------------------------------------------------- with serve's real listeners
# These need the DNS gateway (branch dns) and the transparent listener (branch transparent).

HOSTS = "".join(f"{a} {n}\n" for a, n in [(ALLOWED, "allowed.test"), (ALLOWED6, "allowed.test"),
                                           (DENIED, "denied.test"), ("2001:db8::20", "denied.test")])


def free_port(kind=socket.SOCK_STREAM):
    """A loopback port free now; for SOCK_DGRAM (the DNS gateway's), free for TCP too."""
    for _ in range(32):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            if kind != socket.SOCK_DGRAM:
                return port
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue
    raise RuntimeError("no loopback port free for both UDP and TCP in 32 tries")


class InternetGateway(Gateway):
    """`serve` with the test internet's names and both sandbox listeners on `host`
    (loopback, or the wildcard address: this namespace is a private one)."""

    def __init__(self, tmp, host="127.0.0.1", extra=()):
        self.host = host
        self.listen_dns_port = free_port(socket.SOCK_DGRAM)
        self.transparent_port = free_port()
        super().__init__(tmp, extra_args=["--guard-exempt", "203.0.113.0/24", "--dns", f"{host}:{self.listen_dns_port}",
                                          "--transparent", f"{host}:{self.transparent_port}", *extra])

    def start(self):
        self.hosts.write_text(HOSTS)
        super().start()
        self.dns_port = self.listen_dns_port  # the banner parser knows 127.0.0.1 only

    def listeners(self):
        return ["--transparent", f"{self.host}:{self.transparent_port}", "--dns", f"{self.host}:{self.dns_port}"]


SHOW_PROBE = r'''
set +e
echo "== allowed"; curl -sS --max-time 10 --cacert "$1" https://allowed.test/; echo "rc=$?"
echo "== denied"; curl -sS --max-time 10 --cacert "$1" https://denied.test/; echo "rc=$?"
echo "== deniedbyaddress"; curl -sS --max-time 10 --cacert "$1" --resolve denied.test:443:203.0.113.20 https://denied.test/; echo "rc=$?"
echo "== fronting"; curl -sS --max-time 10 --cacert "$1" --resolve allowed.test:443:203.0.113.20 https://allowed.test/; echo "rc=$?"
echo "== rawallowed"; python3 -c 'import socket; print(socket.create_connection(("203.0.113.30", 7000), 5).recv(100))'; echo "rc=$?"
echo "== rawother"; python3 -c 'import socket; s=socket.create_connection(("203.0.113.31", 7000), 5); d=s.recv(100); assert d, "closed"; print(d)'; echo "rc=$?"
echo "== digdenied"; dig +time=3 +tries=1 denied.test; echo "rc=$?"
echo "== digother"; dig +time=3 +tries=1 @203.0.113.53 denied.test; echo "rc=$?"
echo "== digallowed"; dig +short +time=3 +tries=1 allowed.test; echo "rc=$?"
echo "== end"
'''


def sections(text):
    out, name = {}, None
    for line in text.splitlines():
        if line.startswith("== "):
            name = line[3:]
            out[name] = ""
        elif name:
            out[name] += line + "\n"
    return out


@pytest.fixture(scope="module")
def real(tmp_path_factory, internet):
    if shutil.which("dig") is None:
        pytest.fail("dig is not installed (scripts/test installs dnsutils)")
    tmp = tmp_path_factory.mktemp("real")
    g = InternetGateway(tmp)
    sbx = g.sandbox({"name": "show", "network": {"allow": ["allowed.test", RAW_ALLOWED]}})
    script = tmp / "show.sh"
    script.write_text(SHOW_PROBE)
    status, out, err = run(g, *g.listeners(), "--sandbox", sbx["id"], "--", "sh", str(script), str(internet.cert), timeout=180)
    yield g, sbx, sections(out), status, err
    g.stop()


def test_gateway_allowed_name_works_and_denied_name_is_rejected_and_queued(real, internet):
    g, sbx, out, status, err = real
    assert status == 0, err
    assert "hello from 203.0.113.10" in out["allowed"] and "rc=0" in out["allowed"]
    assert "rc=0" not in out["denied"] and "rc=0" not in out["deniedbyaddress"]
    # The name is refused by the DNS gateway (via dns); a sandbox that knows the address
    # anyway is stopped at the transparent listener (via transparent, SNI denied.test).
    def rejected(via):
        return lambda e: e["host"] == "denied.test" and e["action"] == "reject" and e["via"] == via
    assert g.wait_audit(rejected("dns"), sandbox=sbx["id"])
    items = g.wait_audit(rejected("transparent"), sandbox=sbx["id"])
    entry = next(e for e in items if rejected("transparent")(e))
    assert entry["port"] == 443 and entry["sni"] == "denied.test" and entry["address"] == DENIED, entry
    pending = g.call("GET", f"/api/v1/sandboxes/{sbx['id']}/network/pending").json()["items"]
    assert any(p["host"] == "denied.test" and p["port"] == 443 for p in pending)


def test_gateway_ip_rules_and_sni_fronting(real, internet):
    _, _, out, _, _ = real
    assert "inet-raw" in out["rawallowed"] and "rc=0" in out["rawallowed"], "an allowed IP works"
    assert "rc=0" not in out["rawother"], "an address not allowed fails"
    assert "rc=0" not in out["fronting"], "SNI allowed.test to denied.test's address is rejected"
    assert not any(h.get("local") == DENIED for h in internet.hits() if h["kind"] == "https")


def test_gateway_dns_refuses_denied_names_from_any_resolver(real, internet):
    _, _, out, _, _ = real
    assert "status: REFUSED" in out["digdenied"]
    assert "status: REFUSED" in out["digother"], "a query to another resolver is answered by the gateway"
    assert ALLOWED in out["digallowed"]
    assert not any(h["kind"] == "udp" and h["local"] == RESOLVER for h in internet.hits()), "the other resolver saw nothing"


def test_gateway_root_inside_the_namespace_reaches_nothing_forbidden(tmp_path, real, internet):
    """Root inside the run's namespace (full CAP_NET_ADMIN there) flushes its nftables, adds
    addresses and routes, spoofs its source, flushes every route: nothing forbidden is
    reached at any step, and once it routes through the host end again, policy still holds
    (the allowed name works, the denied one does not)."""
    g, sbx, _, _, _ = real
    script = tmp_path / "wait.sh"
    script.write_text("echo \"$PORTCULLIS_NETNS\"; read line\n")
    p = subprocess.Popen(run_args(g, *g.listeners(), "--sandbox", sbx["id"], "--", "sh", str(script)),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ns = p.stdout.readline().strip()
        link = ns + "-s"
        host_end = pathlib.Path(f"/etc/netns/{ns}/resolv.conf").read_text().split("nameserver ")[1].split()[0]
        inside = ["ip", "netns", "exec", ns]
        curl = [*inside, "curl", "-sS", "--max-time", "8", "--cacert", str(internet.cert)]

        def forbidden_fails(step):
            assert sh(*curl, "https://denied.test/", check=False).returncode != 0, step
            assert sh(*curl, "--resolve", f"denied.test:443:{DENIED}", "https://denied.test/", check=False).returncode != 0, step
            assert sh(*inside, "python3", "-c", f"import socket; socket.create_connection(('{RAW_OTHER}', 7000), 4).recv(1) or exit(1)",
                      check=False).returncode != 0, step

        sh(*inside, "nft", "flush", "ruleset")
        forbidden_fails("after nft flush ruleset")
        # A spoofed source address: the host drops every packet whose source is not the lease.
        sh(*inside, "ip", "addr", "add", "198.51.100.77/32", "dev", link)
        sh(*inside, "ip", "route", "replace", "default", "via", host_end, "dev", link, "src", "198.51.100.77")
        forbidden_fails("with a spoofed source")
        assert sh(*curl, "https://allowed.test/", check=False).returncode != 0, "spoofed packets are dropped, allowed or not"
        # Back to the lease's source: policy, not the routing table, decides.
        sh(*inside, "ip", "route", "replace", "default", "via", host_end, "dev", link)
        sh(*inside, "ip", "route", "add", "203.0.113.0/24", "via", host_end, "dev", link)
        forbidden_fails("with extra routes")
        ok = sh(*curl, "https://allowed.test/", check=False)
        assert ok.returncode == 0 and "hello from 203.0.113.10" in ok.stdout, ok.stderr
        # Every route flushed, the link used on-link: still nothing forbidden.
        sh(*inside, "ip", "route", "flush", "table", "main")
        sh(*inside, "ip", "route", "add", "default", "dev", link)
        forbidden_fails("with every route flushed")
        assert not any(h.get("local") == DENIED for h in internet.hits() if h["kind"] == "https")
        assert not any(h.get("local") == RAW_OTHER for h in internet.hits() if h["kind"] == "tcp")
    finally:
        p.communicate("go\n", timeout=60)
    assert leftovers() == []


# --------------------------------------------------------------------------- serve on the wildcard address
# RUNNER.md: a host serves its sandboxes with `serve --dns 0.0.0.0:PORT --transparent
# 0.0.0.0:PORT`, and `run --dns 0.0.0.0:PORT --transparent 0.0.0.0:PORT` reaches them by a
# redirect to the host end of the sandbox's link. The real DNS gateway answers there, over
# UDP and TCP, from the address the query was sent to (issue 16).

WILDCARD_PROBE = r'''
set +e
echo "== udpallowed"; dig +time=3 +tries=1 allowed.test; echo "rc=$?"
echo "== udpdenied"; dig +time=3 +tries=1 denied.test; echo "rc=$?"
echo "== tcpallowed"; dig +tcp +time=3 +tries=1 allowed.test; echo "rc=$?"
echo "== tcpdenied"; dig +tcp +time=3 +tries=1 denied.test; echo "rc=$?"
echo "== otherresolver"; dig +time=3 +tries=1 @203.0.113.53 allowed.test; echo "rc=$?"
echo "== https"; curl -sS --max-time 10 --cacert "$1" https://allowed.test/; echo "rc=$?"
echo "== end"
'''


@pytest.fixture(scope="module")
def wildcard(tmp_path_factory, internet):
    if shutil.which("dig") is None:
        pytest.fail("dig is not installed (scripts/test installs dnsutils)")
    tmp = tmp_path_factory.mktemp("wildcard")
    # --claimable: one test's query comes from the host itself (127.0.0.1 as a sandbox address).
    g = InternetGateway(tmp, host="0.0.0.0", extra=("--claimable", "127.0.0.0/8"))
    try:
        text = "\n".join(g.banner)
        assert f"dns://0.0.0.0:{g.dns_port}" in text and f"tcp://0.0.0.0:{g.transparent_port}" in text, text
        sbx = g.sandbox({"name": "wild", "network": {"allow": ["allowed.test"]}})
        script = tmp / "wild.sh"
        script.write_text(WILDCARD_PROBE)
        status, out, err = run(g, *g.listeners(), "--sandbox", sbx["id"], "--", "sh", str(script), str(internet.cert), timeout=180)
        yield g, sbx, sections(out), status, err
    finally:
        g.stop()


def test_wildcard_dns_gateway_answers_allowed_and_refuses_denied_names_over_udp(wildcard):
    g, sbx, out, status, err = wildcard
    assert status == 0, err
    assert "status: NOERROR" in out["udpallowed"] and ALLOWED in out["udpallowed"], out["udpallowed"]
    assert "status: REFUSED" in out["udpdenied"], out["udpdenied"]
    assert "status: NOERROR" in out["otherresolver"] and ALLOWED in out["otherresolver"], "any resolver address is answered"
    assert "reply from unexpected source" not in out["udpallowed"] + out["otherresolver"]
    assert g.wait_audit(lambda e: e["host"] == "denied.test" and e["via"] == "dns" and e["action"] == "reject", sandbox=sbx["id"])


def test_wildcard_dns_gateway_answers_over_tcp(wildcard):
    _, _, out, _, _ = wildcard
    assert "status: NOERROR" in out["tcpallowed"] and ALLOWED in out["tcpallowed"], out["tcpallowed"]
    assert "status: REFUSED" in out["tcpdenied"], out["tcpdenied"]


def test_wildcard_transparent_listener_and_no_warning(wildcard, internet):
    _, _, out, _, err = wildcard
    assert "hello from 203.0.113.10" in out["https"] and "rc=0" in out["https"], out["https"]
    assert "warning" not in err, "serve binds what run was given: nothing to warn about"


def test_run_warns_when_serve_does_not_listen_where_it_is_told(real, internet):
    g, sbx, _, _, err = real
    assert "warning" not in err, err
    status, _, err = run(g, "--transparent", f"0.0.0.0:{g.transparent_port}", "--dns", f"127.0.0.1:{g.dns_port}",
                         "--sandbox", sbx["id"], "--", "true")
    assert status == 0, err
    warnings = [l for l in err.splitlines() if l.startswith("portcullis: warning: ")]
    assert len(warnings) == 1, err
    assert warnings[0].startswith(f"portcullis: warning: --transparent 0.0.0.0:{g.transparent_port}: nothing listens on the "
                                  f"wildcard address at port {g.transparent_port} over TCP (something listens on "
                                  f"127.0.0.1:{g.transparent_port})"), warnings[0]
    status, _, err = run(g, *g.listeners()[:2], "--dns", "127.0.0.1:9", "--sandbox", sbx["id"], "--", "true")
    assert status == 0 and "warning: --dns 127.0.0.1:9: nothing listens there over UDP" in err, err
    assert leftovers() == []


def test_wildcard_dns_gateway_answers_from_the_address_the_query_was_sent_to(wildcard):
    """A query to 127.0.0.2 (any address of the host but the one the kernel would pick for
    the answer) is answered from 127.0.0.2: dig drops an answer from another address."""
    g, _, _, _, _ = wildcard
    local = g.sandbox({"name": "host-side", "network": {"allow": ["allowed.test"]}})
    r = g.call("PATCH", f"/api/v1/sandboxes/{local['id']}", {"source_addresses": ["127.0.0.1"]})
    assert r.status_code == 200, r.text
    try:
        for extra in [[], ["+tcp"]]:
            ok = sh("dig", *extra, "+time=3", "+tries=1", "-b", "127.0.0.1", "@127.0.0.2", "-p", g.dns_port, "allowed.test",
                    check=False).stdout
            assert "unexpected source" not in ok and "status: NOERROR" in ok and ALLOWED in ok, (extra, ok)
            refused = sh("dig", *extra, "+time=3", "+tries=1", "-b", "127.0.0.1", "@127.0.0.2", "-p", g.dns_port, "denied.test",
                         check=False).stdout
            assert "status: REFUSED" in refused, (extra, refused)
    finally:
        g.call("PATCH", f"/api/v1/sandboxes/{local['id']}", {"source_addresses": []})
