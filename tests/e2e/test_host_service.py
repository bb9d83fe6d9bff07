"""004's last recipe: reach a service on the host (Ollama on localhost:11434).

sbx users write `sbx policy allow network localhost:11434` and connect to
`host.docker.internal:11434`. With Portcullis, `policy allow network localhost:PORT` opens
that one port of the gateway's host: through the proxy as `localhost` or
`host.portcullis.internal`, and inside a `portcullis run` sandbox as
`host.portcullis.internal` (the DNS gateway answers the host end of the sandbox's link; the
transparent listener dials the host's loopback). Every other port of the host, and the
gateway's own listeners, stay guarded.

`serve` runs here with the shipped address guard: loopback is NOT exempted (the other e2e
gateways pass `--guard-exempt 127.0.0.0/8`; this one drops it).

Network rule: the services are on 127.0.0.1; the run test uses only the namespace
`portcullis run` makes (root, inside scripts/test's private namespace, as test_run.py).
"""
import shutil

import pytest

from conftest import Gateway, Upstream, cli, curl
from test_run import InternetGateway, leftovers, run, sections, skip_reason


def without_loopback_exemption(args):
    out, i = [], 0
    while i < len(args):
        if args[i] == "--guard-exempt" and i + 1 < len(args) and args[i + 1] == "127.0.0.0/8":
            i += 2
            continue
        out.append(args[i])
        i += 1
    return out


class GuardedGateway(Gateway):
    """`serve` as conftest's, with loopback guarded as shipped."""

    def start(self):
        self.args = without_loopback_exemption(self.args)
        super().start()


@pytest.fixture
def guarded(tmp_path):
    g = GuardedGateway(tmp_path)
    yield g
    g.stop()


@pytest.fixture
def services():
    ollama, other = Upstream(), Upstream()
    yield ollama, other
    ollama.close()
    other.close()


def test_policy_allow_network_localhost_port_through_the_proxy(guarded, services):
    ollama, other = services
    g = guarded
    assert "127.0.0.0/8" not in g.args
    sbx = g.sandbox({"name": "ollama"})
    sid = sbx["id"]
    proxy = g.proxy_url(sbx)
    # Before the rule: the host's loopback is guarded, in the default (audit) mode too.
    _, out, _ = curl("-x", proxy, "-o", "/dev/null", "-w", "%{http_code}", f"http://localhost:{ollama.port}/api/tags")
    assert out == "403"
    # The sbx recipe, word for word but the command name.
    _, out, _ = cli(g, "policy", "allow", "network", f"localhost:{ollama.port}", "--sandbox", sid)
    rule_id = out.split()[0].split(":", 1)[1]
    for host in ["localhost", "host.portcullis.internal"]:
        status, out, err = curl("-x", proxy, f"http://{host}:{ollama.port}/api/tags")
        assert status == 0 and out == f"hello from {host}:{ollama.port}\n", err
        status, out, err = curl("-p", "-x", proxy, f"http://{host}:{ollama.port}/api/tags")
        assert status == 0 and out == f"hello from {host}:{ollama.port}\n", err
    assert len(ollama.requests) == 4
    items = g.wait_audit(lambda e: e["host"] == "host.portcullis.internal" and e["action"] == "allow", sandbox=sid)
    entry = next(e for e in items if e["host"] == "host.portcullis.internal" and e["action"] == "allow")
    assert entry["address"] == "127.0.0.1" and entry["rule_id"] == rule_id and entry["port"] == ollama.port, entry
    # Every other port of the host stays guarded, and so do the gateway's own listeners.
    for port in [other.port, g.proxy_port, g.socks_port]:
        _, out, _ = curl("-x", proxy, "-o", "/dev/null", "-w", "%{http_code}", f"http://localhost:{port}/")
        assert out == "403", port
    cli(g, "policy", "allow", "network", f"localhost:{g.socks_port}", "--sandbox", sid)
    r = curl("-x", proxy, "-D", "-", "-o", "/dev/null", f"http://host.portcullis.internal:{g.socks_port}/")
    assert "403" in r[1].splitlines()[0] and "x-portcullis-reason: guard:gateway-listener" in r[1].lower(), r
    assert other.requests == []
    g.wait_audit(lambda e: e["port"] == other.port and e["rejected_by"] == "guard:127.0.0.0/8", sandbox=sid)
    # A rule for the host without a port is refused, naming the form to write.
    status, _, err = cli(g, "policy", "allow", "network", "localhost", "--sandbox", sid, check=False)
    assert status != 0 and "needs a port, as in localhost:11434" in err, err


# --------------------------------------------------------------------------- inside portcullis run

HOST_PROBE = r'''
set +e
echo "== nameserver"; sed -n 's/^nameserver //p' /etc/resolv.conf
echo "== dig"; dig +short +time=3 +tries=1 host.portcullis.internal; echo "rc=$?"
echo "== allowed"; curl -sS --max-time 10 "http://host.portcullis.internal:$1/api/tags"; echo "rc=$?"
echo "== other"; curl -sS --max-time 10 "http://host.portcullis.internal:$2/"; echo "rc=$?"
echo "== listener"; curl -sS --max-time 10 "http://host.portcullis.internal:$3/"; echo "rc=$?"
echo "== localhost"; curl -sS --max-time 5 "http://localhost:$1/"; echo "rc=$?"
echo "== end"
'''


class GuardedInternetGateway(InternetGateway):
    """test_run's gateway (both sandbox listeners on loopback), with loopback guarded as shipped."""

    def start(self):
        self.args = without_loopback_exemption(self.args)
        super().start()


@pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")
def test_run_sandbox_reaches_the_allowed_host_port_as_host_portcullis_internal(tmp_path, services):
    if shutil.which("dig") is None:
        pytest.fail("dig is not installed (scripts/test installs dnsutils)")
    ollama, other = services
    g = GuardedInternetGateway(tmp_path)
    try:
        assert "127.0.0.0/8" not in g.args
        sbx = g.sandbox({"name": "ollama-run"})
        sid = sbx["id"]
        for port in [ollama.port, g.proxy_port]:
            cli(g, "policy", "allow", "network", f"localhost:{port}", "--sandbox", sid)
        script = tmp_path / "host.sh"
        script.write_text(HOST_PROBE)
        status, out, err = run(g, *g.listeners(), "--sandbox", sid, "--", "sh", str(script),
                               str(ollama.port), str(other.port), str(g.proxy_port), timeout=120)
        assert status == 0, err
        s = sections(out)
        host_end = s["nameserver"].strip()
        assert host_end.startswith("100."), s["nameserver"]
        assert s["dig"].split() == [host_end, "rc=0"], "the DNS gateway answers the host end of the link: " + s["dig"]
        assert f"hello from host.portcullis.internal:{ollama.port}" in s["allowed"] and "rc=0" in s["allowed"], s["allowed"]
        assert len(ollama.requests) == 1
        assert "rc=0" not in s["other"] and other.requests == [], s["other"]
        assert "rc=0" not in s["listener"], s["listener"]
        assert "rc=0" not in s["localhost"], "localhost inside the sandbox is the sandbox itself"
        items = g.wait_audit(lambda e: e["via"] == "transparent" and e["action"] == "allow", sandbox=sid)
        allowed = next(e for e in items if e["via"] == "transparent" and e["action"] == "allow")
        assert allowed["host"] == "host.portcullis.internal" and allowed["address"] == "127.0.0.1", allowed
        assert allowed["port"] == ollama.port
        g.wait_audit(lambda e: e["via"] == "transparent" and e["port"] == other.port
                     and e["rejected_by"] == "guard:127.0.0.0/8", sandbox=sid)
        g.wait_audit(lambda e: e["via"] == "transparent" and e["port"] == g.proxy_port
                     and e["rejected_by"] == "guard:gateway-listener", sandbox=sid)
        g.wait_audit(lambda e: e["via"] == "dns" and e["host"] == "host.portcullis.internal" and e["action"] == "allow",
                     sandbox=sid)
    finally:
        g.stop()
    assert leftovers() == []
