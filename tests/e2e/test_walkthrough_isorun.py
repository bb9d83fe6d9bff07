"""003 (Isorun network filtering): create-time allow/deny, the metadata deny, networkProfile."""
from conftest import curl, via


def test_allow_only_what_you_trust(gateway, upstream):
    sbx = gateway.sandbox({"network": {"deny": ["0.0.0.0/0"], "allow": ["api.openai.test", "pypi.test"]}})
    assert sbx["mode"] == "allowlist"
    base = f":{upstream.port}"
    assert via(gateway, sbx, f"http://pypi.test{base}/").status_code == 200
    status, out, _ = curl("-m", "2", "--proxy", gateway.proxy_url(sbx), "-o", "/dev/null", "-w", "%{http_code}", f"http://other.test{base}/")
    assert out == "403", "an unlisted host fails at once"


def test_block_specific_hosts(gateway, upstream):
    sbx = gateway.sandbox({"network": {"deny": ["169.254.169.254", "metadata.google.internal"]}})
    assert sbx["mode"] == "denylist"
    assert via(gateway, sbx, f"http://allowed.test:{upstream.port}/").status_code == 200
    r = via(gateway, sbx, "http://169.254.169.254/")
    assert r.status_code == 403
    r = via(gateway, sbx, "http://metadata.test/")
    assert r.status_code == 403 and r.headers["X-Portcullis-Reason"].startswith("guard:"), "a name pointing at metadata meets the guard"


def test_network_profile(gateway, upstream):
    created = gateway.call("POST", "/api/v1/profiles/test-apis", {"description": "test upstreams",
                                                                    "rules": [{"action": "allow", "host": "*.pypi.test"}, {"action": "allow", "host": "pypi.test"}]})
    assert created.status_code == 201, created.text
    sbx = gateway.sandbox({"networkProfile": "test-apis", "mode": "allowlist"})
    assert sbx["profiles"] == ["test-apis"]
    assert via(gateway, sbx, f"http://files.pypi.test:{upstream.port}/").status_code == 200
    assert via(gateway, sbx, f"http://other.test:{upstream.port}/").status_code == 403
