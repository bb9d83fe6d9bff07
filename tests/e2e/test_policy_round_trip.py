"""A policy read with GET goes back (API.md: "replace from an exported policy"; "a template
body is an exported policy plus `name`"), through the real binary: GET A, PUT B, GET B
equal A in mode and rules; the same for a template and the tenant policy. docs/api.md,
"Sending a policy back"."""

RULE_FIELDS = ("action", "host", "port", "protocol", "methods", "paths", "warn_only", "inspect", "except", "note")


def meaning(rules):
    return [{k: r[k] for k in RULE_FIELDS} for r in rules]


def rich_sandbox(gateway):
    a = gateway.sandbox({"profiles": ["pypi"]})["id"]
    for rule in [
        {"action": "allow", "host": "api.openai.com", "port": 443, "methods": ["POST"], "paths": ["/v1/*"], "warn_only": True, "note": "trial"},
        {"action": "allow", "host": "*.github.com", "protocol": "tcp"},
        {"action": "deny", "host": "*.corp.example", "except": ["jira.corp.example"], "note": "no intranet"},
    ]:
        r = gateway.call("POST", f"/api/v1/sandboxes/{a}/network/rules", rule)
        assert r.status_code == 201, r.text
    assert gateway.call("POST", f"/api/v1/sandboxes/{a}/network/lockdown").status_code == 200
    return a


def test_a_sandbox_policy_read_is_put_into_another_sandbox(gateway):
    a = rich_sandbox(gateway)
    b = gateway.sandbox({})["id"]
    read = gateway.call("GET", f"/api/v1/sandboxes/{a}/network/policy").json()
    r = gateway.call("PUT", f"/api/v1/sandboxes/{b}/network/policy", read)
    assert r.status_code == 200, r.text
    got = gateway.call("GET", f"/api/v1/sandboxes/{b}/network/policy").json()
    assert got["mode"] == read["mode"] == "allowlist"
    assert got["profiles"] == ["pypi"]
    assert meaning(got["allow_rules"]) == meaning(read["allow_rules"]) and len(got["allow_rules"]) == 2
    assert meaning(got["deny_rules"]) == meaning(read["deny_rules"]) and len(got["deny_rules"]) == 1
    assert {r["id"] for r in got["allow_rules"]}.isdisjoint(r["id"] for r in read["allow_rules"])

    # The four exported fields alone, rules as returned.
    c = gateway.sandbox({})["id"]
    four = {k: read[k] for k in ("mode", "allow_rules", "deny_rules", "profiles")}
    r = gateway.call("PUT", f"/api/v1/sandboxes/{c}/network/policy", four)
    assert r.status_code == 200, r.text
    assert meaning(r.json()["allow_rules"]) == meaning(read["allow_rules"])

    # The effective view holds profile rules: refused naming the field, nothing changed.
    before = gateway.call("GET", f"/api/v1/sandboxes/{c}/network/policy").json()
    r = gateway.call("PUT", f"/api/v1/sandboxes/{c}/network/policy", {"allow_rules": read["effective"]["allow_rules"]})
    assert r.status_code == 400, r.text
    assert ".source is \"profile:pypi\", not \"local\"" in r.json()["error"], r.text
    assert gateway.call("GET", f"/api/v1/sandboxes/{c}/network/policy").json() == before

    # A misspelt field is still refused with the field meant.
    r = gateway.call("PUT", f"/api/v1/sandboxes/{c}/network/policy", dict(read, efective={}))
    assert r.status_code == 400 and r.json()["error"] == 'unknown field "efective"; did you mean "effective"?', r.text


def test_a_policy_read_becomes_a_template_and_a_template_goes_back(gateway):
    a = rich_sandbox(gateway)
    read = gateway.call("GET", f"/api/v1/sandboxes/{a}/network/policy").json()
    r = gateway.call("POST", "/api/v1/templates", dict(read, name="from-a"))
    assert r.status_code == 201, r.text
    template = gateway.call("GET", "/api/v1/templates/from-a").json()
    assert template["mode"] == "allowlist" and meaning(template["allow_rules"]) == meaning(read["allow_rules"])
    r = gateway.call("PUT", "/api/v1/templates/from-a", template)
    assert r.status_code == 200, r.text
    r = gateway.call("PUT", "/api/v1/templates/from-a", dict(template, name="other"))
    assert r.status_code == 400 and r.json()["error"].startswith("name: a template keeps its name"), r.text
    r = gateway.call("POST", "/api/v1/templates", dict(template, name="copy"))
    assert r.status_code == 201, r.text
    made = gateway.sandbox({"template": "copy"})["id"]
    policy = gateway.call("GET", f"/api/v1/sandboxes/{made}/network/policy").json()
    assert policy["mode"] == "allowlist"
    assert meaning(policy["allow_rules"]) == meaning(read["allow_rules"])
    assert meaning(policy["deny_rules"]) == meaning(read["deny_rules"])


def test_the_tenant_policy_read_is_put_back(gateway):
    r = gateway.call("PUT", "/api/v1/network/policy", {"default_mode": "audit", "allow_rules": [{"host": "pypi.org", "port": 443}],
                                                       "deny_rules": [{"host": "*.corp.example"}]})
    assert r.status_code == 200, r.text
    read = gateway.call("GET", "/api/v1/network/policy").json()
    r = gateway.call("PUT", "/api/v1/network/policy", read)
    assert r.status_code == 200, r.text
    got = gateway.call("GET", "/api/v1/network/policy").json()
    assert got["default_mode"] == "audit"
    assert meaning(got["allow_rules"]) == meaning(read["allow_rules"]) and meaning(got["deny_rules"]) == meaning(read["deny_rules"])
    assert [r["id"] for r in got["allow_rules"]] == [r["id"] for r in read["allow_rules"]], "unchanged rules keep their ids"
