"""Fixtures for the Python SDK's tests: one `portcullis serve` for the session, started
exactly as tests/e2e starts it (its Gateway and Upstream are reused), a fresh tenant per
test so tenant-wide changes stay in that test, and upstream servers named with `.test`
names through serve's hosts file.

Network rule: everything binds and connects to 127.0.0.1 only.

The SDK is imported from sdk/python/src, unless PORTCULLIS_SDK_INSTALLED=1 (then from
wherever `pip install ./sdk/python` put it: scripts/test runs part of this suite that way
on the oldest Python it finds, to prove the installed package works). The gateway is
.build/debug/portcullis, or PORTCULLIS_BINARY when set.
"""
import importlib.util
import itertools
import json
import os
import pathlib
import sys
import time

import httpx
import pytest
import requests

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[2]
if os.environ.get("PORTCULLIS_SDK_INSTALLED") != "1":
    sys.path.insert(0, str(HERE.parent / "src"))

import portcullis  # noqa: E402

_spec = importlib.util.spec_from_file_location("e2e_harness", ROOT / "tests" / "e2e" / "conftest.py")
e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(e2e)
if os.environ.get("PORTCULLIS_BINARY"):
    e2e.BINARY = pathlib.Path(os.environ["PORTCULLIS_BINARY"]).resolve()

OPENAPI = ROOT / "Sources" / "PortcullisAPI" / "openapi.yaml"
# The source documents' hosts, as `.test` names on 127.0.0.1 in serve's hosts file (the
# snippets keep their code; only `.com`/`.org`/`.dev` become `.test`).
SOURCE_NAMES = ["api.experimental.example.test", "example.test", "github.test", "objects.githubusercontent.test",
                "files.pythonhosted.test", "pythonhosted.test", "registry.npmjs.test", "pkg.go.test", "proxy.golang.test"]
e2e.TEST_NAMES = e2e.TEST_NAMES + [n for n in SOURCE_NAMES if n not in e2e.TEST_NAMES]
_names = itertools.count(1)


@pytest.fixture(scope="session")
def gateway(tmp_path_factory):
    g = e2e.Gateway(tmp_path_factory.mktemp("serve"))
    yield g
    g.stop()


@pytest.fixture(scope="session")
def upstream():
    u = e2e.Upstream()
    yield u
    u.close()


@pytest.fixture
def admin(gateway):
    with portcullis.Portcullis(base_url=gateway.api, api_key=gateway.admin) as c:
        yield c


@pytest.fixture
def tenant(admin):
    """A fresh tenant: (TenantCreated, its API key)."""
    created = admin.tenants.create(f"sdk-test-{os.getpid()}-{next(_names)}")
    return created


@pytest.fixture
def client(gateway, tenant):
    """A sync client with a fresh tenant's key."""
    with portcullis.Portcullis(base_url=gateway.api, api_key=tenant.api_key) as c:
        yield c


def proxied(sandbox, url, method="GET"):
    """One request through the gateway's HTTP proxy, with the sandbox's own proxy settings."""
    proxy = sandbox.proxy.http_url
    return requests.request(method, url, proxies={"http": proxy, "https": proxy}, timeout=10)


def wait_for(fn, timeout=5.0):
    deadline = time.time() + timeout
    while True:
        value = fn()
        if value or time.time() > deadline:
            return value
        time.sleep(0.05)


class Recorder:
    """The operations a client sent, recovered from the requests themselves (method and path
    matched against the OpenAPI document's path templates), not from the SDK's own tables.

    Each request's query parameters must be the operation's own, or `wait=fleet` (FLEET.md:
    any policy-changing call); `waited` collects the operations sent with it. With
    `versions=(api, admin key)`, the policy version serve reports (`GET /api/v1/nodes`) is
    read after every successful call that is not a GET: `raised` and `kept` collect the
    operations that raised it and those that did not."""

    def __init__(self, versions=None):
        import re

        import yaml
        self.doc = yaml.safe_load(OPENAPI.read_text())
        self.routes = []
        for path, item in self.doc["paths"].items():
            pattern = re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", path) + "$")
            shared = item.get("parameters", [])
            for method, op in item.items():
                if isinstance(op, dict) and "operationId" in op:
                    self.routes.append((method.upper(), pattern, op, path.count("{"), shared))
        # Literal segments win over parameters (`/network/rules` vs `/network/rules/{rule_id}`).
        self.routes.sort(key=lambda r: r[3])
        self.seen = set()
        self.waited = set()
        self.raised, self.kept = set(), set()
        self._versions = versions
        self._version = self._policy_version() if versions else None

    def all_operations(self):
        return {r[2]["operationId"] for r in self.routes}

    def _route(self, request):
        for method, pattern, op, _, shared in self.routes:
            if method == request.method and pattern.match(request.url.path):
                return op, shared
        raise AssertionError(f"{request.method} {request.url.path} is no operation of the OpenAPI document")

    def _query_names(self, op, shared):
        names = set()
        for p in shared + op.get("parameters", []):
            if "$ref" in p:
                p = self.doc["components"]["parameters"][p["$ref"].rsplit("/", 1)[-1]]
            if p["in"] == "query":
                names.add(p["name"])
        return names

    def _policy_version(self):
        api, key = self._versions
        r = httpx.get(api + "/api/v1/nodes", headers={"Authorization": f"Bearer {key}"}, timeout=10)
        r.raise_for_status()
        return r.json()["policy_version"]

    def after(self, response):
        """The response hook: did this call raise the policy version?"""
        if response.request.method == "GET" or response.status_code >= 300:
            return
        op, _ = self._route(response.request)
        version = self._policy_version()
        (self.raised if version > self._version else self.kept).add(op["operationId"])
        self._version = version

    def record(self, request):
        op, shared = self._route(request)
        self.seen.add(op["operationId"])
        allowed = self._query_names(op, shared)
        for key, value in request.url.params.multi_items():
            if key == "wait" and key not in allowed:
                assert value == "fleet", f"{op['operationId']}: wait={value!r}"
                self.waited.add(op["operationId"])
            else:
                assert key in allowed, f"{op['operationId']}: the SDK sent the query parameter {key!r}, which the document does not define"
        if request.content:
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            self.check_fields(json.loads(request.content), schema, op["operationId"])

    def check_fields(self, value, schema, where):
        """Every field the SDK sent is one the operation defines (the API refuses others, issue 15)."""
        while "$ref" in schema:
            schema = self.doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        if isinstance(value, dict) and "properties" in schema:
            for key, v in value.items():
                assert key in schema["properties"], f"{where}: the SDK sent {key!r}, which the document does not define"
                self.check_fields(v, schema["properties"][key], f"{where}.{key}")
        elif isinstance(value, list) and "items" in schema:
            for v in value:
                self.check_fields(v, schema["items"], where + "[]")

    async def arecord(self, request):
        self.record(request)

    def sync_client(self, gateway, key):
        http = httpx.Client(event_hooks={"request": [self.record], "response": [self.after] if self._versions else []})
        return portcullis.Portcullis(base_url=gateway.api, api_key=key, http_client=http), http

    def async_client(self, gateway, key):
        http = httpx.AsyncClient(event_hooks={"request": [self.arecord]})
        return portcullis.AsyncPortcullis(base_url=gateway.api, api_key=key, http_client=http), http
