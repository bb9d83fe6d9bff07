"""004 (sbx policy): policy ls with the default groups, deny a host, see BLOCKED in
policy log, remove the rule by id, and the host works again without a restart."""
import json
import os
import subprocess
import time

from conftest import BINARY, cli, via

GROUPS = ["default-ai-services", "default-package-managers", "default-code-and-containers",
          "default-cloud-infrastructure", "default-os-packages"]


def test_policy_deny_log_rm(gateway, upstream):
    # The five default groups are one call away: make them the tenant's default profiles.
    put = gateway.call("PUT", "/api/v1/network/policy", {"default_mode": "denylist", "default_profiles": GROUPS})
    assert put.status_code == 200, put.text
    sbx = gateway.sandbox()
    sid = sbx["id"]
    assert sbx["profiles"] == GROUPS
    _, out, _ = cli(gateway, "policy", "ls", sid)
    for g in GROUPS:
        assert g in out
    assert "no (profile)" in out

    log_env = dict(os.environ, PORTCULLIS_URL=gateway.api, PORTCULLIS_TOKEN=gateway.admin)
    log = subprocess.Popen([str(BINARY), "policy", "log", sid], stdout=subprocess.PIPE, text=True, env=log_env)
    try:
        time.sleep(0.5)
        base = f":{upstream.port}"
        assert via(gateway, sbx, f"http://pypi.test{base}/").status_code == 200
        # Step 1: block a host with a local deny rule.
        _, out, _ = cli(gateway, "policy", "deny", "network", "pypi.test", "--sandbox", sid)
        rule_id = out.split()[0].split(":", 1)[1]
        _, out, _ = cli(gateway, "policy", "ls", sid)
        assert f"local:{rule_id}" in out and "deny" in out
        # Step 3: the request fails — no restart needed.
        r = via(gateway, sbx, f"http://pypi.test{base}/")
        assert r.status_code == 403 and r.headers["X-Portcullis-Reason"] == rule_id
        # Step 4: remove the rule by its id; the host works again at once.
        _, out, _ = cli(gateway, "policy", "rm", "network", "--id", rule_id)
        assert "removed" in out
        assert via(gateway, sbx, f"http://pypi.test{base}/").status_code == 200
        time.sleep(1.0)
    finally:
        log.terminate()
        lines = log.communicate(timeout=10)[0].splitlines()
    assert any(l.startswith("ALLOWED") and "pypi.test" in l and l.rstrip().endswith("200") for l in lines), lines
    assert any(l.startswith("BLOCKED") and "pypi.test" in l and l.rstrip().endswith("-") for l in lines), lines


def test_a_local_deny_beats_a_default_profile_allow(gateway):
    gateway.call("PUT", "/api/v1/network/policy", {"default_mode": "allowlist", "default_profiles": GROUPS})
    sid = gateway.sandbox()["id"]
    _, out, _ = cli(gateway, "explain", sid, "pypi.org:443", "--json")
    e = json.loads(out)
    assert e["action"] == "allow" and e["rule_id"].startswith("rul_builtin_")
    cli(gateway, "policy", "deny", "network", "pypi.org", "--sandbox", sid)
    status, out, _ = cli(gateway, "explain", sid, "pypi.org:443", "--json", check=False)
    assert status == 1 and json.loads(out)["action"] == "reject"
    # Default policies cannot be removed.
    status, _, err = cli(gateway, "policy", "rm", "network", "--id", e["rule_id"], check=False)
    assert status != 0 and "cannot be removed" in err
