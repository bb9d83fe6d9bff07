"""Every operation of the OpenAPI document has an SDK method, in both clients, and the
generated modules match the document. No server needed."""
import inspect
import subprocess
import sys

import yaml

import portcullis
from conftest import OPENAPI, ROOT


def document_operations(doc):
    return {op["operationId"] for item in doc["paths"].values() for op in item.values()
            if isinstance(op, dict) and "operationId" in op}


def sdk_operations(client_class):
    """operationId -> the client attribute paths of the methods marked with it."""
    found = {}
    seen = set()

    def walk(cls, path):
        if cls in seen:
            return
        seen.add(cls)
        for name, member in inspect.getmembers(cls):
            if name.startswith("_") and name != "__init__":
                continue
            op = getattr(member, "__portcullis_operation__", None)
            if op:
                found.setdefault(op, []).append(f"{path}.{name}")
            target = member.fget if isinstance(member, property) else member
            ret = inspect.signature(target).return_annotation if callable(target) else None
            ret_cls = getattr(sys.modules[cls.__module__], ret, None) if isinstance(ret, str) else ret
            if inspect.isclass(ret_cls) and ret_cls.__module__.startswith("portcullis._"):
                walk(ret_cls, f"{path}.{name}()")
        # Resource attributes set in __init__ (client.sandboxes, …) are found from the source.
        for attr, value in _resource_attributes(cls).items():
            walk(value, f"{path}.{attr}")

    walk(client_class, client_class.__name__)
    return found


def _resource_attributes(cls):
    """`self.sandboxes = Sandboxes(self)` lines of a class's __init__, as {attribute: class}."""
    import re
    out = {}
    try:
        source = inspect.getsource(cls.__init__)
    except (OSError, TypeError):
        return out
    module = sys.modules[cls.__module__]
    for attr, name in re.findall(r"self\.(\w+) = (\w+)\(self\)", source):
        value = getattr(module, name, None)
        if inspect.isclass(value):
            out[attr] = value
    return out


def missing(doc, client_class):
    return sorted(document_operations(doc) - set(sdk_operations(client_class)))


def test_every_operation_has_a_method_in_the_sync_client():
    doc = yaml.safe_load(OPENAPI.read_text())
    assert missing(doc, portcullis.Portcullis) == []


def test_every_operation_has_a_method_in_the_async_client():
    doc = yaml.safe_load(OPENAPI.read_text())
    assert missing(doc, portcullis.AsyncPortcullis) == []


def test_the_sdk_verbs_of_sdk_md_are_where_the_document_says():
    ops = sdk_operations(portcullis.Portcullis)
    assert "Portcullis.sandboxes.create" in ops["createSandbox"]
    assert {p.rsplit(".", 2)[-2:][1] for p in ops["addSandboxRule"]} == {"allow", "deny"}
    assert all(".network()." in p for p in ops["addSandboxRule"] + ops["lockdownSandbox"] + ops["observeSandbox"])
    assert "Portcullis.network.lockdown" in ops["lockdownTenant"]
    assert "Portcullis.network_policy.update" in ops["setComputerNetworkPolicy"]
    assert "Portcullis.audit.list" in ops["listAudit"]


def test_an_operation_added_to_the_document_is_reported_missing():
    doc = yaml.safe_load(OPENAPI.read_text())
    doc["paths"]["/api/v1/widgets"] = {"get": {"operationId": "listWidgets", "responses": {"200": {"description": "x"}}}}
    assert missing(doc, portcullis.Portcullis) == ["listWidgets"]
    assert missing(doc, portcullis.AsyncPortcullis) == ["listWidgets"]


def test_an_operation_that_writes_must_be_placed_for_wait_fleet():
    """generate-sdk refuses a POST, PUT, PATCH or DELETE that is neither policy-changing
    (`?wait=fleet`) nor listed as changing no policy."""
    import pytest
    sys.path.insert(0, str(ROOT / "scripts"))
    from sdkgen.spec import Spec, load
    doc = load()
    Spec(doc).check_fleet_wait()
    doc["paths"]["/api/v1/widgets"] = {"post": {"operationId": "createWidget", "responses": {"201": {"description": "x"}}}}
    with pytest.raises(SystemExit, match="createWidget"):
        Spec(doc).check_fleet_wait()


def test_the_fleet_and_its_nodes_are_where_sdk_md_says():
    ops = sdk_operations(portcullis.Portcullis)
    assert ops["listNodes"] == ["Portcullis.nodes.list"]
    assert sdk_operations(portcullis.AsyncPortcullis)["listNodes"] == ["AsyncPortcullis.nodes.list"]
    assert issubclass(portcullis.FleetLaggingError, portcullis.PortcullisError)
    assert not issubclass(portcullis.FleetLaggingError, portcullis.APIStatusError), "the change was made: no error status"


def test_generated_modules_match_the_document():
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "generate-sdk"), "--check", "--only", "python"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_models_have_every_field_the_document_defines():
    """The generated dataclasses carry each schema's fields under the API's names."""
    import dataclasses
    doc = yaml.safe_load(OPENAPI.read_text())
    for schema, cls in [("Rule", portcullis.Rule), ("Sandbox", portcullis.Sandbox), ("SandboxPolicy", portcullis.SandboxPolicy),
                        ("Node", portcullis.Node), ("FleetLagging", portcullis.FleetLagging),
                        ("AuditEntry", portcullis.AuditEntry), ("Pending", portcullis.Pending), ("Template", portcullis.Template),
                        ("TenantPolicy", portcullis.TenantPolicy), ("ComputerPolicy", portcullis.ComputerPolicy)]:
        fields = {f.name.rstrip("_") for f in dataclasses.fields(cls)}
        assert fields == set(doc["components"]["schemas"][schema]["properties"]), schema


def test_the_package_parses_as_python_3_9():
    import ast
    for path in (ROOT / "sdk" / "python" / "src" / "portcullis").rglob("*.py"):
        ast.parse(path.read_text(), filename=str(path), feature_version=(3, 9))


def test_the_package_under_test_is_the_one_meant():
    """From sdk/python/src, or (PORTCULLIS_SDK_INSTALLED=1) as `pip install ./sdk/python` put it."""
    import os
    import pathlib
    where = pathlib.Path(portcullis.__file__).resolve()
    src = ROOT / "sdk" / "python" / "src"
    if os.environ.get("PORTCULLIS_SDK_INSTALLED") == "1":
        assert "site-packages" in where.parts and src not in where.parents
        assert (where.parent / "py.typed").exists()
    else:
        assert src in where.parents


def test_the_tours_check_of_sent_fields_can_fail():
    """The tours check every body against the document (strict input, API.md)."""
    import pytest

    from conftest import Recorder
    r = Recorder()
    rule = {"$ref": "#/components/schemas/NewRule"}
    r.check_fields({"action": "allow", "host": "x", "warn_only": True}, rule, "addSandboxRule")
    with pytest.raises(AssertionError, match="warnonly"):
        r.check_fields({"action": "allow", "host": "x", "warnonly": True}, rule, "addSandboxRule")
    with pytest.raises(AssertionError, match="ports"):
        r.check_fields({"allow_rules": [{"host": "x", "ports": 1}]}, {"$ref": "#/components/schemas/ExportedPolicy"}, "put")
