"""Reads the OpenAPI document into what both SDK generators need: operations, schemas,
and the mapping between the API's snake_case names and the TypeScript SDK's camelCase."""
import keyword
import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
OPENAPI = ROOT / "Sources" / "PortcullisAPI" / "openapi.yaml"
METHODS = ("get", "put", "post", "patch", "delete")

# Schemas whose answers carry methods in the SDKs (sandbox.network…, pending.allow()):
# the generated data class takes this name, the SDKs' bound classes the schema's own name.
BOUND = {"Sandbox": "SandboxData", "Pending": "PendingData"}

# Fields never shown by a model's repr (secrets that reach the SDK in answers).
SECRET_FIELDS = {
    ("ProxySettings", "password"), ("ProxySettings", "http_url"), ("ProxySettings", "socks_url"),
    ("TenantCreated", "api_key"), ("ApiKeyCreated", "api_key"),
}

# An input schema and the answers that may be sent back as it ("a policy read with GET can
# be sent back as it is"): the SDKs drop those answers' output-only fields before sending.
EXPORTS = {
    "ExportedPolicy": ["SandboxPolicy", "Template"],
    "TemplateCreate": ["SandboxPolicy", "Template"],
    "TemplateReplace": ["SandboxPolicy", "Template"],
    "TenantPolicyInput": ["TenantPolicy"],
    "RuleInput": ["Rule"],
    "NewRule": ["Rule"],
    "ProfileInput": ["Profile"],
    "ComputerRule": ["Rule"],
    "CredentialBindingInput": ["CredentialBinding"],
    "CredentialPlacementInput": ["CredentialPlacement"],
}

# Request fields that are aliases of another field (same camelCase spelling in TypeScript).
ALIASES = {"networkProfile": "network_profile"}

# `?wait=fleet` (FLEET.md): "any policy-changing call" may wait until every node that is not
# `down` has applied it. The document says so once, in its description, without naming the
# calls, so the SDKs' list is here: the operations that commit a new policy version. Every
# other operation that is not a GET is in NO_POLICY_CHANGE, and the generator refuses one
# that is in neither list, so an operation added to the document must be placed. The Python
# tour checks both lists against the policy version a live serve reports after each call.
FLEET_WAIT = {
    "createSandbox", "updateSandbox", "deleteSandbox", "replaceSandboxPolicy", "addSandboxRule", "clearSandboxRules",
    "deleteSandboxRule", "lockdownSandbox", "observeSandbox", "allowPending", "blockPending", "attachProfile",
    "detachProfile", "replaceTenantPolicy", "addTenantRule", "deleteTenantRule", "lockdownTenant", "observeTenant",
    "createProfile", "replaceProfile", "deleteProfile", "createTenant", "setComputerNetworkPolicy",
    "resetComputerNetworkPolicy",
    # Credentials (INSPECTION.md, issue 18): each commits a policy change (the sandboxes'
    # bindings travel with their policy). Listed before they reach the document, so the
    # document may gain them first; names the document does not have are not checked.
    "createCredential", "replaceCredential", "deleteCredential", "attachCredential", "detachCredential",
}
NO_POLICY_CHANGE = {
    "explainDecision", "createTemplate", "replaceTemplate", "deleteTemplate", "createTenantKey", "deleteTenantKey",
}
# The 202 answer of `?wait=fleet` when some nodes lag (named in the document's description only).
FLEET_LAGGING = "FleetLagging"


def load(path=OPENAPI):
    return yaml.safe_load(pathlib.Path(path).read_text())


def camel(name):
    """`warn_only` -> `warnOnly`: the TypeScript SDK's spelling of an API field."""
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)


def snake(name):
    """`warnOnly` -> `warn_only`: the inverse of `camel` for every name of the document."""
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def py_name(name):
    """A field name as a Python identifier (`except` -> `except_`)."""
    return name + "_" if keyword.iskeyword(name) else name


class Spec:
    def __init__(self, doc):
        self.doc = doc
        self.schemas = doc["components"]["schemas"]
        self.parameters = doc["components"].get("parameters", {})
        self.responses = doc["components"].get("responses", {})

    # ------------------------------------------------------------------ schemas
    def ref_name(self, schema):
        ref = schema.get("$ref") if isinstance(schema, dict) else None
        return ref.rsplit("/", 1)[-1] if ref else None

    def deref(self, schema):
        name = self.ref_name(schema)
        return self.schemas[name] if name else schema

    def is_object(self, schema):
        s = self.deref(schema)
        return s.get("type") == "object" or "properties" in s

    def types(self, schema):
        t = schema.get("type")
        if t is None:
            return [], False
        ts = t if isinstance(t, list) else [t]
        return [x for x in ts if x != "null"], "null" in ts

    def properties(self, name):
        s = self.schemas[name]
        return s.get("properties", {}), set(s.get("required", []))

    def container_kind(self, name):
        """`page` for {items, next_cursor}, `items` for {items}, `data` for {data}; else None."""
        props, _ = self.properties(name)
        keys = set(props)
        if keys == {"items", "next_cursor"}:
            return "page"
        if keys == {"items"}:
            return "items"
        if keys == {"data"}:
            return "data"
        return None

    def closure(self, roots):
        """Every object schema reachable from `roots` (names), in document order."""
        seen = set()
        todo = list(roots)
        while todo:
            n = todo.pop()
            if n in seen or not self.is_object({"$ref": "#/components/schemas/" + n}):
                continue
            seen.add(n)
            for sub in self._refs(self.schemas[n]):
                todo.append(sub)
        return [n for n in self.schemas if n in seen]

    def _refs(self, schema):
        if isinstance(schema, dict):
            if "$ref" in schema:
                yield self.ref_name(schema)
            for v in schema.values():
                yield from self._refs(v)
        elif isinstance(schema, list):
            for v in schema:
                yield from self._refs(v)

    # --------------------------------------------------------------- operations
    def operations(self):
        """[(operation id, method, path, path params, query params, body schema, answer)] in document order."""
        out = []
        for path, item in self.doc["paths"].items():
            shared = item.get("parameters", [])
            for method in METHODS:
                op = item.get(method)
                if not op:
                    continue
                params = [self._param(p) for p in shared + op.get("parameters", [])]
                body = None
                if "requestBody" in op:
                    schema = op["requestBody"]["content"]["application/json"]["schema"]
                    body = self.ref_name(schema)
                out.append({
                    "id": op["operationId"],
                    "auth": op.get("security", self.doc.get("security")) != [],
                    "method": method.upper(),
                    "path": path,
                    "path_params": [p["name"] for p in params if p["in"] == "path"],
                    "query": [p["name"] for p in params if p["in"] == "query"],
                    "body": body,
                    "body_required": bool(op.get("requestBody", {}).get("required")),
                    "answer": self._answer(op),
                    "fleet_wait": op["operationId"] in FLEET_WAIT,
                })
        return out

    def _param(self, p):
        name = self.ref_name(p)
        return self.parameters[name] if name else p

    def _answer(self, op):
        for status, resp in sorted(op["responses"].items()):
            if not str(status).startswith("2"):
                continue
            name = self.ref_name(resp)
            resp = self.responses[name] if name else resp
            content = resp.get("content")
            if not content:
                return {"status": int(status), "kind": "empty"}
            ctype, media = next(iter(content.items()))
            if ctype == "text/event-stream":
                return {"status": int(status), "kind": "sse"}
            if ctype == "application/x-ndjson":
                return {"status": int(status), "kind": "ndjson"}
            if ctype == "application/x-pem-file":
                return {"status": int(status), "kind": "pem"}
            if ctype != "application/json":
                return {"status": int(status), "kind": "text"}
            schema = self.ref_name(media["schema"])
            kind = self.container_kind(schema)
            if kind in ("page", "items"):
                return {"status": int(status), "kind": kind, "schema": self.ref_name(self.schemas[schema]["properties"]["items"]["items"])}
            if kind == "data":
                return {"status": int(status), "kind": "data", "schema": self.ref_name(self.schemas[schema]["properties"]["data"])}
            return {"status": int(status), "kind": "object", "schema": schema}
        raise ValueError(f"operation {op['operationId']} has no 2xx answer")

    def output_schemas(self):
        roots = [a["schema"] for a in (o["answer"] for o in self.operations()) if "schema" in a]
        roots += [FLEET_LAGGING] if FLEET_LAGGING in self.schemas else []
        return [n for n in self.closure(roots) if not self.container_kind(n)]

    def input_schemas(self):
        return self.closure([o["body"] for o in self.operations() if o["body"]])

    def output_only(self):
        """For each input schema that answers may be sent back as: the answers' fields it lacks."""
        out = {}
        for inp, outs in EXPORTS.items():
            if inp not in self.schemas:
                continue
            own = set(self.properties(inp)[0])
            extra = set()
            for o in outs:
                if o in self.schemas:
                    extra |= set(self.properties(o)[0]) - own
            out[inp] = sorted(extra)
        return out

    def nested_inputs(self):
        """For each input schema: field -> the input schema of its items or value, where one is."""
        out = {}
        for n in self.input_schemas():
            nested = {}
            for f, s in self.properties(n)[0].items():
                target = s.get("items", s) if s.get("type") == "array" or "array" in (s.get("type") or []) else s
                ref = self.ref_name(target)
                if ref and self.is_object(target):
                    nested[f] = ref
            if nested:
                out[n] = nested
        return out

    def check_names(self):
        """Every field name must survive snake -> camel -> snake (aliases aside)."""
        bad = []
        for n, s in self.schemas.items():
            for f in s.get("properties", {}):
                if snake(camel(f)) != f and f not in ALIASES:
                    bad.append(f"{n}.{f}")
        for o in self.operations():
            for q in o["query"] + o["path_params"]:
                if snake(camel(q)) != q:
                    bad.append(f"{o['id']}?{q}")
        if bad:
            raise SystemExit("generate-sdk: names that do not round-trip snake_case <-> camelCase: " + ", ".join(bad))

    def check_fleet_wait(self):
        """Every operation that is not a GET is in FLEET_WAIT or NO_POLICY_CHANGE (not both)."""
        ops = {o["id"]: o for o in self.operations()}
        problems = [f"{i} is in FLEET_WAIT and NO_POLICY_CHANGE" for i in sorted(FLEET_WAIT & NO_POLICY_CHANGE)]
        problems += [f"{i} ({o['method']} {o['path']}) is in neither FLEET_WAIT nor NO_POLICY_CHANGE"
                     for i, o in ops.items() if o["method"] != "GET" and i not in FLEET_WAIT | NO_POLICY_CHANGE]
        problems += [f"{i} is a GET in FLEET_WAIT" for i in sorted(FLEET_WAIT) if i in ops and ops[i]["method"] == "GET"]
        if problems:
            raise SystemExit("generate-sdk: place each operation that writes (scripts/sdkgen/spec.py, FLEET_WAIT): "
                             + "; ".join(problems))
