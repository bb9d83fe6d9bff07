"""Schemathesis hooks for Portcullis (loaded by scripts/schemathesis.d/schemathesis.toml).

The API document names five string formats whose grammar JSON Schema cannot state whole
(docs/POLICY-MODEL.md and docs/api.md have it): `host-pattern`, `target-host`, `ip-address`,
`source-address` and `path-pattern`. The strategies below generate values of those formats, so
that positive test cases are valid inputs (a source address from ranges no gateway owns: the
shared space 100.64.0.0/10 that `portcullis run` leases from, and unique-local IPv6). Rules the
document states in prose (deny rules carry no `methods`, `paths`, `warn_only` or `inspect`, allow
rules no `except` and no `inspect: true` over udp, a rule in `allow_rules` is not a deny rule, `network_profile` and `networkProfile`
agree, `template` and `clone_from` are not both given, a credential's binding and placement are
what docs/inspection.md says, a `cursor` is only ever one the server
handed out, so positive cases start without one) are applied to positive cases only; negative
cases are left as generated.
"""

import ipaddress

import schemathesis
from hypothesis import strategies as st

_label = st.from_regex(r"\A[a-z][a-z0-9]{0,9}\Z")
_suffix = st.sampled_from(["com", "org", "net", "io", "dev", "example.com", "co.uk"])
_name = st.builds(lambda labels, tld: ".".join(labels + [tld]), st.lists(_label, min_size=1, max_size=3), _suffix)
_ipv4 = st.ip_addresses(v=4).map(str)
_ipv6 = st.ip_addresses(v=6).map(str)
_cidr4 = st.builds(lambda a, p: str(ipaddress.ip_network(f"{a}/{p}", strict=False)), st.ip_addresses(v=4), st.integers(8, 32))
_cidr6 = st.builds(lambda a, p: str(ipaddress.ip_network(f"{a}/{p}", strict=False)), st.ip_addresses(v=6), st.integers(16, 128))

schemathesis.openapi.format(
    "host-pattern",
    st.one_of(_name, _name.map(lambda n: "*." + n), _ipv4, _ipv6, _cidr4, _cidr6),
)
schemathesis.openapi.format("target-host", st.one_of(_name, _ipv4, _ipv6))
schemathesis.openapi.format("ip-address", st.one_of(_ipv4, _ipv6))
schemathesis.openapi.format(
    "source-address",
    st.one_of(
        st.integers(1, (1 << 22) - 2).map(lambda n: str(ipaddress.IPv4Address(0x6440_0000 + n))),
        st.integers(1, (1 << 64) - 1).map(lambda n: str(ipaddress.IPv6Address((0xFD << 120) + n))),
    ),
)
schemathesis.openapi.format(
    "path-pattern",
    st.builds(
        lambda segments, prefix: "/" + "/".join(segments) + ("/*" if prefix and segments else ""),
        st.lists(st.from_regex(r"\A[a-z0-9_-]{1,8}\Z"), max_size=4),
        st.booleans(),
    ),
)


def _fix_rule(rule, action=None):
    if not isinstance(rule, dict):
        return rule
    if action is not None and "action" in rule:
        rule["action"] = action
    act = rule.get("action", action)
    if act == "deny":
        rule.pop("methods", None)
        rule.pop("paths", None)
        if rule.get("warn_only") is True:
            rule["warn_only"] = False
        rule.pop("inspect", None)
        host = rule.get("host")
        if isinstance(host, str) and host.startswith("*.") and rule.get("except"):
            rule["except"] = ["covered." + host[2:]]
        else:
            rule.pop("except", None)
    elif act == "allow":
        if rule.get("except"):
            rule.pop("except")
        if rule.get("protocol") == "udp":
            rule.pop("methods", None)
            rule.pop("paths", None)
            if rule.get("inspect") is True:
                rule.pop("inspect")
    return rule


def _fix_credential(body):
    """A credential's rules the document states in prose (docs/inspection.md, "Credentials"):
    the binding's host is a name (never an IP, CIDR or public suffix), methods are HTTP
    tokens and at least one, a path prefix is an absolute path, the port 1-65535; a header
    placement names a header and its format holds {secret} once, basic has neither, query
    names a parameter; a value has no control characters."""
    binding, placement = body.get("binding"), body.get("placement")
    if isinstance(binding, dict):
        host = binding.get("host")
        if (not isinstance(host, str) or ":" in host or "/" in host
                or not any(c.isalpha() for c in host.split(".")[-1])):
            binding["host"] = "api.example.com"
        if binding.get("methods") is not None:
            binding["methods"] = ["GET", "POST"]
        if binding.get("path_prefix") is not None:
            binding["path_prefix"] = "/v1"
        port = binding.get("port")
        if port is not None and not (isinstance(port, int) and 1 <= port <= 65535):
            binding["port"] = 443
    if isinstance(placement, dict):
        kind = placement.get("kind")
        if kind == "basic":
            placement.pop("name", None)
            placement.pop("format", None)
        elif kind == "query":
            placement["name"] = "key"
            placement.pop("format", None)
        elif kind == "header":
            placement["name"] = "Authorization"
            if placement.get("format") is not None:
                placement["format"] = "Bearer {secret}"
    value = body.get("value")
    if isinstance(value, str) and (any(ord(c) < 32 or ord(c) == 127 for c in value) or "pcx_" in value
                                   or not 6 <= len(value.encode()) <= 8192):
        body["value"] = "sk-schemathesis-value"


@schemathesis.hook
def map_case(context, case):
    meta = getattr(case, "meta", None)
    if meta is not None and meta.generation.mode.is_negative:
        return case
    if isinstance(case.query, dict):
        case.query.pop("cursor", None)
    body = case.body
    if not isinstance(body, dict):
        return case
    if "action" in body and "host" in body:
        _fix_rule(body)
    for key, action in (("allow_rules", "allow"), ("deny_rules", "deny")):
        if isinstance(body.get(key), list):
            body[key] = [_fix_rule(r, action) for r in body[key]]
            # A rule's answer-only `source` must be the target's own kind (docs/api.md,
            # "Sending a policy back"): `tenant` in the tenant policy, else `local`.
            own = "tenant" if case.path == "/api/v1/network/policy" else "local"
            for r in body[key]:
                if isinstance(r, dict) and "source" in r:
                    r["source"] = own
    if isinstance(body.get("rules"), list):
        body["rules"] = [_fix_rule(r) for r in body["rules"]]
    if "network_profile" in body and "networkProfile" in body:
        body["networkProfile"] = body["network_profile"]
    if "template" in body and "clone_from" in body:
        body.pop("clone_from")
    if "binding" in body and "placement" in body:
        _fix_credential(body)
    return case


@schemathesis.hook
def before_call(context, case, kwargs):
    """A credential's or template's PUT keeps its name (a rename is refused with 400): the
    body of a positive case names the path's credential or template. Here rather than in map_case, so that
    every phase's cases (coverage included) get it, with the path as it is sent."""
    meta = getattr(case, "meta", None)
    if meta is not None and meta.generation.mode.is_negative:
        return
    name = (case.path_parameters or {}).get("name")
    if (case.method.upper() == "PUT" and (case.path.startswith("/api/v1/credentials/") or case.path.startswith("/api/v1/templates/"))
            and isinstance(name, str) and isinstance(case.body, dict) and isinstance(case.body.get("name"), str)):
        case.body["name"] = name
