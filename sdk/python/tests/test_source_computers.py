"""002_4351c856c6d963fe.txt (the MIOSA computers network-policy API): its Python recipe
as written, and its TypeScript recipes in Python, with only the client's construction
changed. Ports stay 443 as written: traffic to an allowed host:443 is let through (and
finds nothing listening: 502), traffic to any other host is refused at once (403); the
malicious range is judged with explain, so no packet is ever sent towards it."""
import time

import requests


def connect(sandbox, host, port=443):
    """A CONNECT through the sandbox's proxy; returns the proxy's status and how long it took."""
    proxy = sandbox.proxy.http_url
    start = time.monotonic()
    try:
        requests.get(f"https://{host}:{port}/", proxies={"https": proxy}, timeout=10)
        status = 200
    except requests.exceptions.ProxyError as e:
        status = int(str(e).split("Tunnel connection failed: ")[1][:3]) if "Tunnel connection failed: " in str(e) else 0
    return status, time.monotonic() - start


def test_002_sandbox_an_untrusted_ai_task(client, upstream):
    computer = client.sandboxes.create()
    computer_id = computer.id

    # Lock down before running untrusted code
    client.network_policy.update(computer_id, mode="isolated")

    # Run the task: here, its network calls through the computer's proxy.
    assert requests.get(f"http://api.openai.test:{upstream.port}/", proxies={"http": computer.proxy.http_url}, timeout=10).status_code == 403
    assert client.network_policy.get(computer_id).mode == "isolated"

    # Restore after
    client.network_policy.delete(computer_id)

    assert client.network_policy.get(computer_id).mode == "audit"
    assert requests.get(f"http://api.openai.test:{upstream.port}/", proxies={"http": computer.proxy.http_url}, timeout=10).status_code == 200


def test_002_quick_start_allow_only_https_to_github_and_pypi(client):
    computer_id = client.sandboxes.create().id
    # Restrict to only allow HTTPS to GitHub and PyPI
    client.network_policy.update(computer_id, mode="allowlist", rules=[
        {"host": "github.test", "port": 443, "protocol": "tcp"},
        {"host": "pypi.test", "port": 443, "protocol": "tcp"},
        {"host": "files.pythonhosted.test", "port": 443, "protocol": "tcp"},
    ])
    policy = client.network_policy.get(computer_id)
    assert policy.mode == "allowlist" and [r.host for r in policy.rules] == ["github.test", "pypi.test", "files.pythonhosted.test"]
    sandbox = client.sandboxes.get(computer_id)
    status, _ = connect(sandbox, "github.test")
    assert status == 502, "allowed, and nothing listens on 443 here"
    status, seconds = connect(sandbox, "example.test")
    assert status == 403 and seconds < 2
    status, _ = connect(sandbox, "github.test", 8443)
    assert status == 403, "port 443 only"


def test_002_allow_only_package_registries_for_a_build_environment(client):
    computer_id = client.sandboxes.create().id
    package_hosts = [
        {"host": "registry.npmjs.test", "port": 443, "protocol": "tcp"},
        {"host": "pypi.test", "port": 443, "protocol": "tcp"},
        {"host": "files.pythonhosted.test", "port": 443, "protocol": "tcp"},
        {"host": "pkg.go.test", "port": 443, "protocol": "tcp"},
        {"host": "proxy.golang.test", "port": 443, "protocol": "tcp"},
    ]
    client.network_policy.update(computer_id, mode="allowlist", rules=package_hosts)
    net = client.sandboxes.network(computer_id)
    assert [net.explain(h["host"], port=443).action for h in package_hosts] == ["allow"] * 5
    assert net.explain("github.test", port=443).rejected_by == "default-deny"


def test_002_block_a_known_malicious_ip_range(client):
    computer_id = client.sandboxes.create().id
    client.network_policy.update(computer_id, mode="denylist", rules=[
        {"host": "185.220.0.0/16"},
    ])
    policy = client.network_policy.get(computer_id)
    assert policy.mode == "denylist" and [(r.host, r.protocol) for r in policy.rules] == [("185.220.0.0/16", "any")]
    net = client.sandboxes.network(computer_id)
    rule = net.get_policy().deny_rules[0]
    assert net.explain("185.220.101.1", port=443).rejected_by == rule.id
    assert net.explain("tor-exit.test", port=443, resolved="185.220.101.1").rejected_by == rule.id, "a name cannot bypass it"
    assert net.explain("github.test", port=443).action == "allow"
