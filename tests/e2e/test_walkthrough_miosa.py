"""000 (Network Allowlist) and 001 (Lockdown workflow), as written, with Portcullis's
names: observe, review suggestions, lock down with one host unchecked, handle pending,
warn-only, roll back, export and clone, the reject audit."""
import json
import time

from conftest import cli, curl, via


def wait_for(fn, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_watch_then_enforce(gateway, upstream):
    base = f":{upstream.port}"
    # Day 0: a new sandbox starts in audit-only mode.
    _, out, _ = cli(gateway, "sandbox", "create", "--name", "pipeline", "--json")
    sbx = json.loads(out)
    assert sbx["mode"] == "audit"
    sid = sbx["id"]

    # Day 0-7: use the sandbox normally; every call is logged, none blocked.
    for host, n in [("api.openai.test", 5), ("pypi.test", 3), ("files.pypi.test", 2), ("other.test", 1)]:
        for _ in range(n):
            assert via(gateway, sbx, f"http://{host}{base}/").status_code == 200
    assert curl("--proxy", gateway.proxy_url(sbx), f"http://allowed.test{base}/")[0] == 0

    # Day 7+: the Network tab — hosts contacted with request counts, most used first.
    s = wait_for(lambda: (lambda j: j if sum(i["count"] for i in j["items"]) >= 12 else None)(
        gateway.call("GET", f"/api/v1/sandboxes/{sid}/network/suggestions?since=7d").json()))
    assert [i["host"] for i in s["items"]][:3] == ["api.openai.test", "pypi.test", "files.pypi.test"]
    assert s["items"][0]["count"] == 5
    _, table, _ = cli(gateway, "suggestions", sid, "--since", "7d")
    assert "HOSTS CONTACTED IN THE LAST 7D" in table and "api.openai.test" in table

    # Lock Down with one host unchecked (other.test).
    keep = "api.openai.test,pypi.test,files.pypi.test,allowed.test"
    _, out, _ = cli(gateway, "lockdown", sid, "--hosts", keep)
    assert "allowlist" in out
    policy = gateway.call("GET", f"/api/v1/sandboxes/{sid}/network/policy").json()
    assert policy["mode"] == "allowlist"
    assert sorted(r["host"] for r in policy["allow_rules"]) == sorted(keep.split(","))

    # The unchecked host is blocked and appears in Pending; one click allows it.
    r = via(gateway, sbx, f"http://other.test{base}/")
    assert r.status_code == 403 and r.headers["X-Portcullis-Reason"] == "default-deny"
    assert via(gateway, sbx, f"http://pypi.test{base}/").status_code == 200
    pending = wait_for(lambda: gateway.call("GET", f"/api/v1/sandboxes/{sid}/network/pending").json()["items"])
    assert pending[0]["host"] == "other.test" and pending[0]["port"] == upstream.port
    _, out, _ = cli(gateway, "pending", "allow", pending[0]["id"])
    assert "allowed other.test" in out
    assert via(gateway, sbx, f"http://other.test{base}/").status_code == 200
    assert gateway.call("GET", f"/api/v1/sandboxes/{sid}/network/pending").json()["items"] == []

    # A warn_only rule lets a trial integration through in enforce mode, flagged `warn`.
    cli(gateway, "policy", "allow", "network", "denied.test", "--sandbox", sid, "--warn-only")
    assert via(gateway, sbx, f"http://denied.test{base}/").status_code == 200
    warned = gateway.wait_audit(lambda e: e["host"] == "denied.test" and e["action"] == "warn", sandbox=sid)
    assert any(e["action"] == "warn" and e["rule_id"] for e in warned)

    # Roll back with observe: rules are kept, not enforced; lock down again: enforced again.
    cli(gateway, "observe", sid)
    unlisted = via(gateway, sbx, f"http://unlisted.test{base}/")
    assert unlisted.status_code != 403, "audit mode blocks nothing the guard allows (unlisted.test has no address: 502)"
    kept = gateway.call("GET", f"/api/v1/sandboxes/{sid}/network/policy").json()
    assert len(kept["allow_rules"]) == 6
    cli(gateway, "lockdown", sid, "--yes")
    assert via(gateway, sbx, f"http://allowed.test{base}/").status_code == 200

    # Export the policy and clone it to new sandboxes, which then behave the same.
    _, exported, _ = cli(gateway, "export", sid)
    assert json.loads(exported)["mode"] == "allowlist"
    _, out, _ = cli(gateway, "sandbox", "create", "--json")
    copy = json.loads(out)
    (gateway.tmp / "policy.json").write_text(exported)
    cli(gateway, "import", copy["id"], str(gateway.tmp / "policy.json"))
    _, out, _ = cli(gateway, "sandbox", "create", "--clone-from", sid, "--json")
    clone = json.loads(out)
    for other in (copy, clone):
        assert via(gateway, other, f"http://pypi.test{base}/").status_code == 200
        assert via(gateway, other, f"http://unlisted.test{base}/").status_code == 403

    # The audit log filtered by action=reject names what rejected each row.
    rejects = gateway.wait_audit(lambda e: e["host"] == "unlisted.test", action="reject")
    assert rejects and all(e["action"] == "reject" and e["rejected_by"] for e in rejects)
    _, out, _ = cli(gateway, "audit", "--action", "reject", "--json")
    assert all(e["rejected_by"] for e in json.loads(out))
    _, out, _ = cli(gateway, "audit", "--action", "reject")
    assert "default-deny" in out
