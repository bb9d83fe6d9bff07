"""002 (the computers network-policy API): every curl recipe and documented error."""
import json

from conftest import curl, via

ERR_RULES = '{"error":"rules required for allowlist/denylist mode"}'
ERR_404 = '{"error":"computer not found"}'


def api_curl(gateway, method, path, body=None):
    args = ["-X", method, gateway.api + path, "-H", f"Authorization: Bearer {gateway.admin}", "-w", "\n%{http_code}"]
    if body is not None:
        args += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    status, out, err = curl(*args)
    assert status == 0, err
    text, code = out.rsplit("\n", 1)
    return int(code), text


def test_the_recipes(gateway, upstream):
    sbx = gateway.sandbox()
    cid = sbx["id"]
    base = f":{upstream.port}"

    # Quick start: restrict to only allow the listed hosts.
    code, text = api_curl(gateway, "PUT", f"/api/v1/computers/{cid}/network-policy", {
        "mode": "allowlist",
        "rules": [{"host": "allowed.test", "port": upstream.port, "protocol": "tcp"},
                  {"host": "pypi.test", "port": upstream.port, "protocol": "tcp"}]})
    assert code == 200
    data = json.loads(text)["data"]
    assert data["computer_id"] == cid and data["mode"] == "allowlist" and len(data["rules"]) == 2
    assert data["rules"][0] == {"host": "allowed.test", "port": upstream.port, "protocol": "tcp"}
    assert via(gateway, sbx, f"http://allowed.test{base}/").status_code == 200
    assert via(gateway, sbx, f"http://other.test{base}/").status_code == 403

    code, text = api_curl(gateway, "GET", f"/api/v1/computers/{cid}/network-policy")
    assert code == 200 and json.loads(text)["data"]["mode"] == "allowlist" and "updated_at" in json.loads(text)["data"]

    # Errors, exactly as documented.
    assert api_curl(gateway, "PUT", f"/api/v1/computers/{cid}/network-policy", {"mode": "allowlist", "rules": []}) == (400, ERR_RULES)
    assert api_curl(gateway, "PUT", f"/api/v1/computers/{cid}/network-policy", {"mode": "denylist"}) == (400, ERR_RULES)
    assert api_curl(gateway, "GET", "/api/v1/computers/sbx_nope/network-policy") == (404, ERR_404)

    # Sandbox an untrusted AI task: isolate, run, restore.
    code, _ = api_curl(gateway, "PUT", f"/api/v1/computers/{cid}/network-policy", {"mode": "isolated"})
    assert code == 200
    r = via(gateway, sbx, f"http://allowed.test{base}/")
    assert r.status_code == 403 and r.headers["X-Portcullis-Reason"] == "mode:isolated"
    code, text = api_curl(gateway, "DELETE", f"/api/v1/computers/{cid}/network-policy")
    assert code == 200 and json.loads(text) == {"data": {"computer_id": cid, "mode": "audit"}}
    assert via(gateway, sbx, f"http://allowed.test{base}/").status_code == 200

    # Block a known malicious range: a denylist CIDR, which a name resolving into it cannot bypass.
    code, _ = api_curl(gateway, "PUT", f"/api/v1/computers/{cid}/network-policy", {"mode": "denylist", "rules": [{"host": "127.0.0.0/8"}]})
    assert code == 200
    r = via(gateway, sbx, f"http://other.test{base}/")
    assert r.status_code == 403 and r.headers["X-Portcullis-Reason"].startswith("rul_")
