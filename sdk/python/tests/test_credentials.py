"""A credential through the SDK, end to end (INSPECTION.md, "Credentials"): created with
`client.credentials.create`, attached with `sandbox.network.credentials.attach`, used by the
sandbox over HTTPS through its proxy with the sandbox's CA (`client.sandboxes.ca_pem`), and
rotated, detached and deleted, against a `serve` that trusts a TLS echo upstream of this
test's own (tests/e2e's TestCA and EchoUpstream, `--upstream-ca`). The secret reaches the
upstream at its placement and never the sandbox, an answer or the audit log."""
import importlib.util
import json
import re

import httpx
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
    answers = []  # every raw answer the SDK read (bodies in full): no value may be in any of them
    hooks = {"response": [lambda r: answers.append(r.read().decode("utf-8", "replace") + json.dumps(dict(r.headers)))]}
    http = httpx.Client(timeout=30, event_hooks=hooks)
    key = admin.tenants.create("sdk-credentials").api_key
    with portcullis.Portcullis(base_url=gateway.api, api_key=key, http_client=http) as client:
        created = client.credentials.create("openai", value=SECRET, binding={"host": "api.openai.test", "port": echo.port},
                                            placement={"kind": "header", "name": "Authorization", "format": "Bearer {secret}"})
        assert created.id.startswith("cred_") and created.binding.port == echo.port and created.rotated_at is None
        sandbox = client.sandboxes.create(mode="allowlist")
        # inspect=True keeps the host terminated after the detach below, so the gateway sees the revoked placeholder.
        sandbox.network.allow("api.openai.test", inspect=True)
        attached = sandbox.network.credentials.attach("openai")
        placeholder = attached.placeholder
        assert re.fullmatch(r"pcx_[a-z2-7]{32}", placeholder) and attached.binding == created.binding
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
        # The request (allowed, terminated) and the echo's reflection of the secret (warn, scrubbed).
        seen = lambda: {(e.action, e.rejected_by, e.terminated) for e in client.audit.list(sandbox=sandbox.id) if e.credential == "openai"}
        assert wait_for(lambda: {("allow", None, True), ("warn", "credential-reflected", True)} <= seen()), seen()

        # Rotation: the next request carries the new value; the placeholder stays.
        rotated = client.credentials.replace("openai", value=ROTATED)
        assert rotated.rotated_at is not None and rotated.binding == created.binding and rotated.placement == created.placement
        assert call().status_code == 200 and echo.received[-1].header("Authorization") == [f"Bearer {ROTATED}"]
        assert [(a.name, a.placeholder) for a in sandbox.network.credentials.list()] == [("openai", placeholder)]
        # The tenant-level spelling of the CLI's `credential attach SANDBOX NAME`: the same attachment.
        assert client.credentials.attach(sandbox.id, "openai").placeholder == placeholder
        assert [a.placeholder for a in client.credentials.list_attached(sandbox.id)] == [placeholder]
        assert [c.name for c in client.credentials.list()] == ["openai"] and client.credentials.get("openai").id == created.id
        list(client.audit.list())

        # Detached, the placeholder is a misuse: refused, nothing sent upstream.
        client.credentials.detach(sandbox.id, "openai")
        assert sandbox.network.credentials.list() == []
        before = len(echo.received)
        r = call()
        assert r.status_code == 403 and r.headers.get("X-Portcullis-Reason") == "credential-misuse"
        assert len(echo.received) == before
        client.credentials.delete("openai")
        assert client.credentials.list() == []
        with pytest.raises(portcullis.NotFoundError):
            client.credentials.get("openai")
        list(client.audit.list(sandbox=sandbox.id))
    http.close()
    admin.close()
    # Nothing the API answered held a value: not the credential's answers, the attachments, nor the audit log.
    assert len(answers) > 15
    assert not [a for a in answers if SECRET in a or ROTATED in a]
