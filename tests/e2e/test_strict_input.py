"""Strict input (API.md, "Strict input") against a real `serve`, from the OpenAPI document
itself: every request schema, fed one extra field at every object it can hold, answers 400
naming that field and changes nothing, while the same body without the extra field is
accepted. Plus the issue's examples, duplicate keys, and the CLI's `import` giving the API's
own message.
"""
import copy
import json
import subprocess

import requests
import yaml

from conftest import ROOT, cli

DOC = ROOT / "Sources" / "PortcullisAPI" / "openapi.yaml"
METHODS = ("get", "put", "post", "delete", "patch")


class Schemas:
    def __init__(self, doc):
        self.doc = doc

    def resolve(self, schema):
        while "$ref" in schema:
            schema = self.doc["components"]["schemas"][schema["$ref"].split("/")[-1]]
        return schema

    def kind(self, schema):
        s = self.resolve(schema)
        if "oneOf" in s:
            return "oneOf"
        types = s.get("type")
        types = types if isinstance(types, list) else [types]
        if "object" in types or "properties" in s:
            return "object"
        if "array" in types:
            return "array"
        return "scalar"

    def sample(self, schema, name, counter):
        """A valid value for a scalar schema of the document."""
        s = self.resolve(schema)
        if "oneOf" in s:
            return self.sample(s["oneOf"][0], name, counter)
        enum = [v for v in s.get("enum", []) if v is not None]
        if enum:
            return "allow" if "allow" in enum else enum[0]
        types = s.get("type")
        types = [t for t in (types if isinstance(types, list) else [types]) if t != "null"]
        t = types[0] if types else "string"
        if t == "integer":
            return s.get("minimum", 1)
        if t == "boolean":
            return False
        fmt = s.get("format")
        if fmt in ("host-pattern", "target-host"):
            return f"probe{counter}.example.test"
        if fmt == "ip-address":
            return "192.0.2.10"
        if fmt == "path-pattern":
            return "/probe"
        if name == "name" and "pattern" in s and "a-z0-9" in s["pattern"]:
            return f"probe-{counter}"
        return f"probe {counter}"

    def minimal(self, schema, name, counter, through=None):
        """The smallest valid value; `through` (a list of steps) also builds the path to a
        nested object, whose own required fields are filled in."""
        s = self.resolve(schema)
        kind = self.kind(s)
        if kind == "object":
            out = {}
            required = set(s.get("required", []))
            step = through[0] if through else None
            for prop, sub in (s.get("properties") or {}).items():
                if prop in required or prop == step:
                    out[prop] = self.minimal(sub, prop, counter, through[1:] if prop == step else None)
            return out
        if kind == "array":
            if through:
                return [self.minimal(s["items"], name, counter, through[1:])]
            return []
        return self.sample(s, name, counter)

    def object_locations(self, schema, depth=0):
        """Every path (list of steps; an array item is the step 0) to an object in `schema`."""
        if depth > 8:
            return []
        s = self.resolve(schema)
        kind = self.kind(s)
        if kind == "object":
            out = [[]]
            for prop, sub in (s.get("properties") or {}).items():
                out += [[prop] + rest for rest in self.object_locations(sub, depth + 1)]
            return out
        if kind == "array":
            return [[0] + rest for rest in self.object_locations(s["items"], depth + 1)]
        return []


def reach(body, location):
    node = body
    for step in location:
        node = node[step]
    return node


def test_the_embedded_request_shapes_match_the_document():
    p = subprocess.run([str(ROOT / "scripts" / "embed-request-shapes"), "--check"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr + p.stdout


def test_every_request_schema_refuses_one_extra_field_and_takes_the_body_without_it(gateway):
    doc = yaml.safe_load(DOC.read_text())
    schemas = Schemas(doc)
    sandbox = gateway.sandbox({})["id"]
    tenant = gateway.call("POST", "/api/v1/tenants", {"name": "probe-tenant"}).json()["id"]
    assert gateway.call("POST", "/api/v1/profiles/probe-profile", {"rules": []}).status_code == 201
    assert gateway.call("POST", "/api/v1/templates", {"name": "probe-template"}).status_code == 201

    def concrete(path):
        values = {"{rule_id}": "rul_none", "{pending_id}": "pnd_none", "{key_id}": "key_none"}
        if path.startswith("/api/v1/tenants/"):
            values["{id}"] = tenant
        values["{id}"] = values.get("{id}", sandbox)
        if path.startswith("/api/v1/templates/"):
            values["{name}"] = "probe-template"
        elif path.startswith("/api/v1/profiles/"):
            values["{name}"] = "probe-profile"
        else:
            values["{name}"] = "pypi"
        for k, v in values.items():
            path = path.replace(k, v)
        return path

    def state():
        return (gateway.call("GET", "/api/v1/network/policy").text, gateway.call("GET", f"/api/v1/sandboxes/{sandbox}/network/policy").text,
                gateway.call("GET", "/api/v1/sandboxes?limit=1000").text, gateway.call("GET", "/api/v1/templates").text,
                gateway.call("GET", "/api/v1/profiles/probe-profile").text)

    cases = []
    counter = 0
    for path, item in doc["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if not op or not (op.get("requestBody") or {}).get("content"):
                continue
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            for location in schemas.object_locations(schema):
                counter += 1
                cases.append((method.upper(), concrete(path), schema, location, counter))
    assert len(cases) > 20, "rules inside policies, templates, profiles and compat bodies are probed too"

    before = state()
    for method, path, schema, location, n in cases:
        body = schemas.minimal(schema, "", n, location)
        probe = f"zz_extra_{n}"
        probed = copy.deepcopy(body)
        reach(probed, location)[probe] = 1
        r = gateway.call(method, path, probed)
        assert r.status_code == 400, (method, path, location, r.text)
        assert f'unknown field "{probe}"' in r.json()["error"], (method, path, location, r.text)
    assert state() == before, "a refused body changed nothing"

    for method, path, schema, location, n in cases:
        body = schemas.minimal(schema, "", n, location)
        r = gateway.call(method, path, body)
        assert r.status_code != 400, ("the body without the extra field is valid", method, path, body, r.text)


def test_the_issue_examples_are_refused_and_change_nothing(gateway):
    sbx = gateway.sandbox({})["id"]
    assert gateway.call("POST", "/api/v1/network/rules", {"action": "deny", "host": "evil.test"}).status_code == 201
    policy = gateway.call("GET", "/api/v1/network/policy").json()
    r = gateway.call("PUT", "/api/v1/network/policy", {"mode": "allowlist"})
    assert r.status_code == 400 and r.json() == {"error": 'unknown field "mode"; did you mean "default_mode"?'}
    assert gateway.call("GET", "/api/v1/network/policy").json() == policy
    r = gateway.call("POST", f"/api/v1/sandboxes/{sbx}/network/rules", {"action": "allow", "host": "x.test", "ports": 443})
    assert r.status_code == 400 and r.json()["error"] == 'unknown field "ports"; did you mean "port"?'
    r = gateway.call("PUT", f"/api/v1/computers/{sbx}/network-policy", {"mode": "denylist", "rules": [{"host": "evil.test", "action": "deny"}]})
    assert r.status_code == 400 and 'unknown field "action" in rules[0]' in r.json()["error"]
    assert gateway.call("GET", f"/api/v1/sandboxes/{sbx}/network/policy").json()["allow_rules"] == []


def test_duplicate_keys_are_refused(gateway):
    sbx = gateway.sandbox({})["id"]
    raw = '{"action": "allow", "host": "x.test", "action": "deny"}'
    r = requests.post(gateway.api + f"/api/v1/sandboxes/{sbx}/network/rules", data=raw, timeout=10,
                      headers={"Content-Type": "application/json", "Authorization": f"Bearer {gateway.admin}"})
    assert r.status_code == 400, r.text
    assert r.json()["error"] == 'field "action" is given twice; give each field once'
    policy = gateway.call("GET", f"/api/v1/sandboxes/{sbx}/network/policy").json()
    assert policy["allow_rules"] == [] and policy["deny_rules"] == []


def test_import_gives_the_api_message_and_sends_nothing(gateway, tmp_path):
    sbx = gateway.sandbox({})["id"]
    before = gateway.call("GET", f"/api/v1/sandboxes/{sbx}/network/policy").json()
    for body, message in [
        ({"modes": "allowlist", "allow_rules": [{"host": "a.test"}]}, 'unknown field "modes"; did you mean "mode"?'),
        ({"allow_rules": [{"host": "a.test", "rule_id": "rul_x"}]}, 'unknown field "rule_id" in allow_rules[0]'),
    ]:
        api = gateway.call("PUT", f"/api/v1/sandboxes/{sbx}/network/policy", body)
        assert api.status_code == 400 and message in api.json()["error"], api.text
        f = tmp_path / "policy.json"
        f.write_text(json.dumps(body))
        status, out, err = cli(gateway, "import", sbx, str(f), check=False)
        assert status != 0
        assert err.strip() == "portcullis: " + api.json()["error"], (err, api.text)
    f.write_text('{"mode": "allowlist", "mode": "audit"}')
    status, _, err = cli(gateway, "import", sbx, str(f), check=False)
    assert status != 0 and err.strip() == 'portcullis: field "mode" is given twice; give each field once'
    assert gateway.call("GET", f"/api/v1/sandboxes/{sbx}/network/policy").json() == before
    # What `export` writes is taken back.
    status, exported, err = cli(gateway, "export", sbx)
    f.write_text(exported)
    status, out, err = cli(gateway, "import", sbx, str(f))
    assert status == 0 and "imported into" in out


def test_query_parameters_are_strict_and_name_themselves(gateway):
    """The contract review's examples (docs/api.md, Strict input, "Query strings")."""
    for path, message in [
        ("/api/v1/audit?action=bogus", 'action must be allow, warn, reject or error, not "bogus"'),
        ("/api/v1/audit/export?action=bogus", 'action must be allow, warn, reject or error, not "bogus"'),
        ("/api/v1/audit/stream?action=bogus", 'action must be allow, warn, reject or error, not "bogus"'),
        ("/api/v1/audit?until=bogus", 'until must be an RFC 3339 time such as 2026-01-02T03:04:05Z, not "bogus"'),
        ("/api/v1/audit?limit=abc", 'limit must be a whole number between 1 and 1000, not "abc"'),
        ("/api/v1/sandboxes?limit=abc", 'limit must be a whole number between 1 and 1000, not "abc"'),
        ("/api/v1/audit?foo=1", 'unknown query parameter "foo"; the parameters here are "sandbox", "action", "host", "since", "until", "limit" and "cursor"'),
        ("/api/v1/audit?acton=reject", 'unknown query parameter "acton"; did you mean "action"?'),
    ]:
        r = gateway.call("GET", path)
        assert r.status_code == 400 and r.json()["error"] == message, (path, r.text)
    assert gateway.call("GET", "/api/v1/audit?action=reject&until=2026-01-02T03:04:05Z&limit=5").status_code == 200
