"""A credential through the SDK, end to end (INSPECTION.md, "Credentials"): created with
`client.credentials.create`, attached with `sandbox.network.credentials.attach`, used by the
sandbox over HTTPS through its proxy with the sandbox's CA (`client.sandboxes.ca_pem`), and
rotated, detached and deleted, against a `serve` that trusts a TLS echo upstream of this
test's own (tests/e2e's TestCA and EchoUpstream, `--upstream-ca`). The secret reaches the
upstream at its placement and never the sandbox, an answer or the audit log."""
import importlib.util
import json

import pytest
import requests

import portcullis
from conftest import ROOT, e2e, wait_for

_spec = importlib.util.spec_from_file_location("portcullis_tls_upstream", ROOT / "tests" / "e2e" / "tls_upstream.py")
tls = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tls)

SECRET = "CANARY-sdk-sk-live-4e1d7c0b9a8f6e5d"
ROTATED = "ROTATED-sdk-sk-live-2b3c4d5e6f7a8b9c"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("credentials")
    ca = tls.TestCA(tmp / "upstream-ca", ["api.openai.test"])
    echo = tls.EchoUpstream(ca)
    gateway = e2e.Gateway(tmp, extra_args=("--upstream-ca", str(ca.ca)))
    yield gateway, echo, tmp
    gateway.stop()
    echo.close()


def test_a_sandbox_uses_a_credential_it_never_holds(world):
    gateway, echo, tmp = world
    admin = portcullis.Portcullis(base_url=gateway.api, api_key=gateway.admin)
    with portcullis.Portcullis(base_url=gateway.api, api_key=admin.tenants.create("sdk-credentials").api_key) as client:
        client.credentials.create(name="openai", value=SECRET, binding={"host": "api.openai.test", "port": echo.port},
                                  placement={"kind": "header", "name": "Authorization", "format": "Bearer {secret}"})
        sandbox = client.sandboxes.create(mode="allowlist")
        # inspect=True keeps the host terminated after the detach below, so the gateway sees the revoked placeholder.
        sandbox.network.allow("api.openai.test", inspect=True)
        placeholder = sandbox.network.credentials.attach("openai").placeholder
        ca_file = tmp / f"{sandbox.id}.pem"
        ca_file.write_text(client.sandboxes.ca_pem(sandbox.id))
        proxy = sandbox.proxy.http_url

        def call(path="/echo"):
            return requests.get(f"https://api.openai.test:{echo.port}{path}", headers={"Authorization": f"Bearer {placeholder}"},
                                proxies={"https": proxy}, verify=str(ca_file), timeout=15)

        r = call()
        assert r.status_code == 200, r.text
        assert echo.received[-1].header("Authorization") == [f"Bearer {SECRET}"]
        assert SECRET not in r.text + json.dumps(dict(r.headers)) and r.headers["X-Echo-Authorization"] == f"Bearer {placeholder}"
        entries = wait_for(lambda: [e for e in client.audit.list(sandbox=sandbox.id) if e.credential == "openai"])
        assert entries and all(e.terminated and e.action == "allow" for e in entries)

        # Rotation: the next request carries the new value; the placeholder stays.
        client.credentials.update("openai", value=ROTATED)
        assert call().status_code == 200 and echo.received[-1].header("Authorization") == [f"Bearer {ROTATED}"]
        assert [a.placeholder for a in sandbox.network.credentials.list()] == [placeholder]

        # Nothing the API answers holds a value.
        shown = json.dumps([c.to_dict() for c in client.credentials.list()] + [e.to_dict() for e in client.audit.list()], default=str)
        assert SECRET not in shown and ROTATED not in shown

        # Detached, the placeholder is a misuse: refused, nothing sent upstream.
        sandbox.network.credentials.detach("openai")
        before = len(echo.received)
        r = call()
        assert r.status_code == 403 and r.headers.get("X-Portcullis-Reason") == "credential-misuse"
        assert len(echo.received) == before
        client.credentials.delete("openai")
        assert client.credentials.list() == []
    admin.close()
