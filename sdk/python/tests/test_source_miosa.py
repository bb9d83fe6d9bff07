"""The Python of 000_1bae325f5480f8de.txt (Network Allowlist) and 001_62d4d6022dd4f5a3.txt
(Lockdown workflow), copied with only the client's construction changed. Their hosts are
`.test` names served by this test's upstream (api.openai.com -> api.openai.test, …), and
`sandbox.exec("curl …")` is a request through the sandbox's own proxy settings."""
from conftest import proxied, wait_for


def test_000_watch_then_enforce_with_warn_only_and_observe(client, upstream, capsys):
    base = f":{upstream.port}"
    sandbox = client.sandboxes.create()
    # Day 0: audit-only by default; every call is logged, none blocked.
    assert sandbox.mode == "audit"
    for host in ["api.openai.test", "api.openai.test", "github.test", "pypi.test", "files.pythonhosted.test"]:
        assert proxied(sandbox, f"http://{host}{base}/").status_code == 200
    # Day 7+: the hosts contacted, then Lock Down with those checkboxes.
    hosts = wait_for(lambda: [s.host for s in sandbox.network.suggestions(since="7d").items if s.count] if
                     len(sandbox.network.suggestions(since="7d").items) >= 4 else None)
    assert hosts[0] == "api.openai.test"
    sandbox.network.lockdown(hosts=hosts)
    assert proxied(sandbox, f"http://api.experimental.example.test{base}/").status_code == 403

    # "When to use warn-mode rules"
    sandbox.network.allow("api.experimental.example.com".replace(".com", ".test"), warn_only=True)
    assert proxied(sandbox, f"http://api.experimental.example.test{base}/").status_code == 200
    warned = wait_for(lambda: [e for e in client.audit.list(sandbox=sandbox.id, action="warn")])
    assert warned[0].host == "api.experimental.example.test" and warned[0].rule_id

    # "Rolling back"
    sandbox.network.observe()
    assert proxied(sandbox, f"http://example.test{base}/").status_code == 200
    # "After observe(), my rules are gone when I call lockdown() again." They are not:
    assert "pypi.test" in [r.host for r in sandbox.network.get_policy().allow_rules]
    sandbox.network.lockdown()
    assert proxied(sandbox, f"http://example.test{base}/").status_code == 403
    # Rules disappear only with clear_rules().
    sandbox.network.clear_rules()
    assert sandbox.network.get_policy().allow_rules == []


def test_000_tenant_wide_rules_and_lockdown(client, upstream):
    base = f":{upstream.port}"
    sandbox = client.sandboxes.create()
    # "I want the same policy on every new sandbox without configuring each one."
    client.network.allow("api.openai.test")
    client.network.lockdown()
    later = client.sandboxes.create()
    for s in (sandbox, later):
        assert s.network.get_policy().mode == "allowlist"
        assert proxied(s, f"http://api.openai.test{base}/").status_code == 200
        assert proxied(s, f"http://example.test{base}/").status_code == 403
    # A sandbox's own setting overrides the tenant's.
    later.network.observe()
    assert proxied(later, f"http://example.test{base}/").status_code == 200
    assert proxied(sandbox, f"http://example.test{base}/").status_code == 403


def test_001_verify_review_operate_and_clone(client, upstream, capsys):
    base = f":{upstream.port}"
    sandbox = client.sandboxes.create()
    for host in ["api.openai.test", "github.test", "pypi.test"]:
        proxied(sandbox, f"http://{host}{base}/")
    assert wait_for(lambda: len(sandbox.network.suggestions(since="7d").items) == 3)
    sandbox.network.deny("169.254.169.254")
    sandbox.network.lockdown(from_suggestions="7d")

    # "Verify enforce mode is active"
    policy = sandbox.network.get_policy()
    print(policy.mode)          # → "enforce"
    print(policy.allow_rules)   # list of allowed hosts
    print(policy.deny_rules)    # list of explicit denies
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "allowlist", "Portcullis names enforce by its canonical name"
    assert "api.openai.test" in out and "169.254.169.254" in out

    # "Test the boundary"
    assert proxied(sandbox, f"http://api.openai.test{base}/").status_code == 200
    r = proxied(sandbox, f"http://example.test{base}/")
    assert r.status_code == 403 and "pending" in r.text

    # "Handling pending requests": sandbox.network.pending(), or the audit log filtered by action=reject.
    [entry] = wait_for(lambda: list(sandbox.network.pending()))
    assert entry.host == "example.test" and entry.count == 1
    rejects = list(client.audit.list(action="reject"))
    assert rejects[0].rejected_by == "default-deny" and rejects[0].host == "example.test"

    # "Warn-only rules for trial hosts"
    sandbox.network.allow("api.experimental.example.com".replace(".com", ".test"), warn_only=True)
    assert proxied(sandbox, f"http://api.experimental.example.test{base}/").status_code == 200

    # "Exporting the policy for reuse" (the template the loop names exists first)
    client.templates.create("python-ds")
    # Export policy from the locked sandbox
    policy = sandbox.network.get_policy()

    # Apply to a new sandbox
    new_sandbox = client.sandboxes.create(template="python-ds")
    for rule in policy.allow_rules:
        new_sandbox.network.allow(rule.host, methods=rule.methods)
    for rule in policy.deny_rules:
        new_sandbox.network.deny(rule.host)
    new_sandbox.network.lockdown()
    print(f"Policy cloned to {new_sandbox.id}.")

    assert capsys.readouterr().out == f"Policy cloned to {new_sandbox.id}.\n"
    clone = new_sandbox.network.get_policy()
    assert clone.mode == "allowlist"
    assert sorted(r.host for r in clone.allow_rules) == sorted(r.host for r in policy.allow_rules)
    assert [r.host for r in clone.deny_rules] == ["169.254.169.254"]
    for host, status in [("api.openai.test", 200), ("github.test", 200), ("example.test", 403)]:
        assert proxied(new_sandbox, f"http://{host}{base}/").status_code == status
    # "call new_sandbox.network.observe() immediately after creation"
    new_sandbox.network.observe()
    assert proxied(new_sandbox, f"http://example.test{base}/").status_code == 200
