"""Credentials in a fleet (INSPECTION.md, FLEET.md): every node seals and opens values with the
one secrets key file, and a credential set, rotated, detached or deleted through one node is
applied by the others within a second, since each is a policy change."""
import importlib.util
import time

import requests

from conftest import ROOT, start_fleet, stop_fleet, wait_until

_spec = importlib.util.spec_from_file_location("portcullis_e2e_tls", ROOT / "tests" / "e2e" / "tls_upstream.py")
_tls = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_tls)

CANARY = "CANARY-fleet-3e1d5c7b9a0f2e4d6c8b0a1f"
ROTATED = "ROTATED-fleet-9c7b5a3f1e0d2c4b6a8f0e1d"


def send(node, sandbox, ca_file, url, placeholder):
    proxy = node.proxy_url(sandbox)
    try:
        r = requests.get(url, headers={"Authorization": f"Bearer {placeholder}"}, proxies={"https": proxy}, verify=ca_file, timeout=5)
        return r.status_code, r.headers.get("X-Portcullis-Reason")
    except requests.RequestException as e:
        return type(e).__name__, None


def test_a_credential_set_on_one_node_is_injected_by_another_and_follows_rotation_and_detach(cluster, tmp_path):
    ca = _tls.TestCA(tmp_path / "ca", ["api.openai.test"])
    echo = _tls.EchoUpstream(ca)
    nodes = start_fleet(tmp_path, cluster, count=2, extra_args=("--upstream-ca", str(ca.ca)))
    try:
        a, b = nodes
        r = a.call("POST", "/api/v1/credentials", {"name": "fleet-openai", "value": CANARY,
                                                   "binding": {"host": "api.openai.test", "port": echo.port},
                                                   "placement": {"kind": "header", "name": "Authorization", "format": "Bearer {secret}"}})
        assert r.status_code == 201, r.text
        sandbox = a.sandbox()
        # The rule keeps the host terminated once the credential is detached, so the revoked
        # placeholder is seen and refused (docs/inspection.md).
        r = a.call("POST", f"/api/v1/sandboxes/{sandbox['id']}/network/rules",
                   {"action": "allow", "host": "api.openai.test", "inspect": True})
        assert r.status_code == 201, r.text
        r = a.call("POST", f"/api/v1/sandboxes/{sandbox['id']}/network/credentials/fleet-openai")
        assert r.status_code == 200, r.text
        placeholder = r.json()["placeholder"]
        ca_file = tmp_path / "sandbox-ca.pem"
        ca_file.write_text(b.call("GET", f"/api/v1/sandboxes/{sandbox['id']}/ca.pem").text)
        url = f"https://api.openai.test:{echo.port}/echo"

        wait_until(lambda: send(b, sandbox, str(ca_file), url, placeholder)[0] == 200, timeout=1.0,
                   message="node-1 injects the credential set through node-0")
        assert echo.received[-1].header("Authorization") == [f"Bearer {CANARY}"]

        r = b.call("PUT", "/api/v1/credentials/fleet-openai", {"name": "fleet-openai", "value": ROTATED,
                                                               "binding": {"host": "api.openai.test", "port": echo.port},
                                                               "placement": {"kind": "header", "name": "Authorization", "format": "Bearer {secret}"}})
        assert r.status_code == 200, r.text
        committed = time.time()

        def rotated_on_a():
            send(a, sandbox, str(ca_file), url, placeholder)
            return echo.received[-1].header("Authorization") == [f"Bearer {ROTATED}"]
        wait_until(rotated_on_a, timeout=1.0, message="node-0 injects the value rotated through node-1")
        assert time.time() - committed < 1.0

        assert b.call("DELETE", f"/api/v1/sandboxes/{sandbox['id']}/network/credentials/fleet-openai").status_code == 204
        wait_until(lambda: send(a, sandbox, str(ca_file), url, placeholder) == (403, "credential-misuse"), timeout=1.0,
                   message="node-0 refuses the placeholder detached through node-1")
        count = len(echo.received)
        assert send(a, sandbox, str(ca_file), url, placeholder) == (403, "credential-misuse")
        assert len(echo.received) == count
        assert CANARY.encode() not in echo.everything().replace(b"Bearer " + CANARY.encode(), b"")
    finally:
        stop_fleet(nodes)
        echo.close()
