"""What a new user tripped on (issue 16), against a live serve: policy ls with the policy
groups, explain's exit codes, lockdown without a terminal, sandbox create --env, templates,
the tenant's default mode, notes and messages that name the next command, login's file."""
import json
import os
import re
import subprocess
import time

from conftest import BINARY, cli, via

GROUPS = ["default-ai-services", "default-package-managers", "default-code-and-containers",
          "default-cloud-infrastructure", "default-os-packages"]


def test_policy_ls_without_a_sandbox_lists_the_policy_groups_then_the_tenant_rules(gateway):
    assert gateway.call("PUT", "/api/v1/network/policy", {
        "default_mode": "audit", "default_profiles": ["default-package-managers"],
        "allow_rules": [{"host": "registry.npmjs.org"}]}).status_code == 200
    _, out, _ = cli(gateway, "policy", "ls")
    lines = out.splitlines()
    assert lines[0] == "tenant default mode: audit"
    assert lines[1].split() == ["POLICY", "TYPE", "DECISION", "RESOURCES", "REMOVABLE", "ATTACHED"]
    names = [line.split()[0] for line in lines[2:]]
    assert names[:5] == GROUPS, "the five sbx groups come first, in sbx's order"
    assert "pypi" in names and "openai" in names, "the per-vendor built-ins follow"
    rows = {line.split()[0]: line for line in lines[2:]}
    assert "no (built-in)" in rows["default-ai-services"] and rows["default-ai-services"].rstrip().endswith("no")
    assert rows["default-package-managers"].rstrip().endswith("yes"), "attached to each new sandbox"
    assert names[-1].startswith("tenant:rul_") and "registry.npmjs.org" in lines[-1], "tenant rules at the bottom"

    _, out, _ = cli(gateway, "policy", "ls", "--json")
    listing = json.loads(out)
    assert listing["default_mode"] == "audit" and [r["host"] for r in listing["allow_rules"]] == ["registry.npmjs.org"]
    groups = {g["name"]: g for g in listing["groups"]}
    assert [g["name"] for g in listing["groups"]][:5] == GROUPS
    assert groups["default-package-managers"]["attached"] is True and groups["default-ai-services"]["attached"] is False
    assert all(g["removable"] is False and g["builtin"] is True for g in groups.values() if g["name"] in GROUPS)
    assert "pypi.org" in groups["default-package-managers"]["hosts"]


def test_explain_exit_codes(gateway):
    sid = gateway.sandbox({"network": {"allow": ["allowed.test"]}})["id"]
    assert cli(gateway, "explain", sid, "allowed.test:443", check=False)[0] == 0
    status, out, _ = cli(gateway, "explain", sid, "other.test:443", check=False)
    assert status == 1 and out.startswith("REJECT")
    status, _, err = cli(gateway, "explain", "sbx_doesnotexist00000", "allowed.test:443", check=False)
    assert status == 4, "an API refusal is not a rejection"
    assert "sandbox sbx_doesnotexist00000 not found" in err and "portcullis sandbox ls" in err
    assert cli(gateway, "explain", sid, "allowed.test:99999", check=False)[0] == 2
    p = subprocess.run([str(BINARY), "explain", sid, "allowed.test:443"], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, PORTCULLIS_URL="http://127.0.0.1:9", PORTCULLIS_TOKEN="k",
                                XDG_CONFIG_HOME=str(gateway.tmp / "none")))
    assert p.returncode == 3
    _, out, _ = cli(gateway, "explain", "--help")
    for line in ["0  allowed or warned", "1  rejected", "2  bad input", "3  the API cannot be reached", "4  the API refused"]:
        assert line in out


def test_lockdown_without_a_terminal_refuses_unless_told_what_to_allow(gateway):
    sid = gateway.sandbox()["id"]
    status, out, err = cli(gateway, "lockdown", sid, check=False, input="")
    assert status == 2 and out == ""
    assert "no allow rule, so every host would be rejected" in err and "--yes" in err and "--hosts" in err
    assert gateway.call("GET", f"/api/v1/sandboxes/{sid}/network/policy").json()["mode"] == "audit", "nothing changed"
    _, out, _ = cli(gateway, "lockdown", sid, "--yes", input="")
    assert "is now allowlist" in out
    status, _, err = cli(gateway, "lockdown", sid, "--from-suggestions", "7days", check=False)
    assert status == 2 and err.startswith("portcullis: --from-suggestions must be a window") and "from_suggestions" not in err


def test_sandbox_create_env_also_exports_the_sandbox_id(gateway):
    _, out, _ = cli(gateway, "sandbox", "create", "--name", "envy", "--env")
    sid = re.search(r"^export PORTCULLIS_SANDBOX=(sbx_[a-z0-9]+)$", out, re.M).group(1)
    assert gateway.call("GET", f"/api/v1/sandboxes/{sid}").json()["name"] == "envy"
    assert "export HTTPS_PROXY=http://" + sid in out
    env = dict(os.environ, PORTCULLIS_URL=gateway.api, PORTCULLIS_TOKEN=gateway.admin, PORTCULLIS_SANDBOX=sid)
    p = subprocess.run([str(BINARY), "policy", "deny", "network", "denied.test"], capture_output=True, text=True, env=env, timeout=30)
    assert p.returncode == 0 and "denied.test" in p.stdout, "the next command picks the id up"


def test_templates_from_the_cli(gateway):
    source = gateway.sandbox({"mode": "allowlist", "network": {"allow": ["pypi.test"]}, "profiles": ["pypi"]})["id"]
    _, out, _ = cli(gateway, "template", "create", "python-ds", "--from-sandbox", source, "--deny", "ifconfig.test")
    assert out.startswith("template python-ds: mode allowlist, profiles pypi")
    _, out, _ = cli(gateway, "template", "ls")
    assert re.search(r"^python-ds\s+allowlist\s+1\s+1\s+pypi\s", out, re.M), out
    _, out, _ = cli(gateway, "template", "show", "python-ds", "--json")
    t = json.loads(out)
    assert [r["host"] for r in t["allow_rules"]] == ["pypi.test"] and [r["host"] for r in t["deny_rules"]] == ["ifconfig.test"]
    _, out, _ = cli(gateway, "sandbox", "create", "--template", "python-ds", "--json")
    made = json.loads(out)
    assert made["mode"] == "allowlist" and made["profiles"] == ["pypi"]
    _, out, _ = cli(gateway, "template", "rm", "python-ds")
    assert "removed" in out
    status, _, err = cli(gateway, "sandbox", "create", "--template", "python-ds", check=False)
    assert status == 1
    assert "template python-ds not found" in err and "portcullis template ls" in err and "template create python-ds" in err


def test_policy_mode_sets_the_tenants_default_and_keeps_rule_ids(gateway):
    _, out, _ = cli(gateway, "policy", "allow", "network", "allowed.test", "--tenant")
    rule_id = out.split()[0].split(":", 1)[1]
    _, out, _ = cli(gateway, "policy", "mode", "denylist", "--tenant")
    assert out.strip() == "the tenant's default mode is now denylist"
    policy = gateway.call("GET", "/api/v1/network/policy").json()
    assert policy["default_mode"] == "denylist" and [r["id"] for r in policy["allow_rules"]] == [rule_id]
    sid = gateway.sandbox()["id"]
    assert gateway.call("GET", f"/api/v1/sandboxes/{sid}").json()["mode"] == "denylist"
    _, out, _ = cli(gateway, "policy", "mode", "isolated", "--sandbox", sid)
    assert out.strip() == f"{sid} is now isolated"
    _, out, _ = cli(gateway, "policy", "mode", "tenant", "--sandbox", sid)
    assert out.strip() == f"{sid} is now denylist (following the tenant)"
    status, _, err = cli(gateway, "policy", "mode", "strict", "--tenant", check=False)
    assert status == 2 and "MODE must be" in err


def test_a_deny_rule_in_audit_mode_says_it_is_only_logged_until_lockdown(gateway, upstream):
    sbx = gateway.sandbox()
    status, out, err = cli(gateway, "policy", "deny", "network", "denied.test", "--sandbox", sbx["id"])
    assert out.startswith("local:rul_")
    assert f"{sbx['id']} is in audit mode: this deny rule is only logged" in err and f"portcullis lockdown {sbx['id']}" in err
    assert via(gateway, sbx, f"http://denied.test:{upstream.port}/").status_code == 200, "indeed only logged"
    locked = gateway.sandbox({"mode": "allowlist"})
    _, _, err = cli(gateway, "policy", "deny", "network", "denied.test", "--sandbox", locked["id"])
    assert err == "", "nothing to say where the rule blocks"
    _, _, err = cli(gateway, "policy", "deny", "network", "denied.test", "--tenant")
    assert "the tenant's default mode" in err and "only logged" in err


def test_removing_a_rule_through_the_wrong_layer_names_the_command_that_removes_it(gateway):
    _, out, _ = cli(gateway, "policy", "deny", "network", "other.test", "--tenant")
    tenant_rule = out.split()[0].split(":", 1)[1]
    sid = gateway.sandbox({"profiles": ["pypi"]})["id"]
    status, _, err = cli(gateway, "policy", "rm", "network", "--id", tenant_rule, "--sandbox", sid, check=False)
    assert status == 1 and f"portcullis policy rm network --id {tenant_rule} --tenant" in err
    status, _, err = cli(gateway, "policy", "rm", "network", "--id", "rul_builtin_pypi_1", "--sandbox", sid, check=False)
    assert status == 1 and f"portcullis profile detach pypi --sandbox {sid}" in err
    status, _, err = cli(gateway, "policy", "rm", "network", "--id", "rul_builtin_pypi_1", check=False)
    assert status == 1 and f"portcullis profile detach pypi --sandbox {sid}" in err
    _, out, _ = cli(gateway, "profile", "detach", "pypi", "--sandbox", sid)
    assert "profiles: none" in out
    _, out, _ = cli(gateway, "policy", "rm", "network", "--id", tenant_rule, "--tenant")
    assert "removed" in out and gateway.call("GET", "/api/v1/network/policy").json()["deny_rules"] == []


def test_import_into_a_missing_sandbox_names_it_and_how_to_make_one(gateway, tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"mode": "allowlist", "allow_rules": [{"host": "allowed.test"}]}))
    status, _, err = cli(gateway, "import", "sbx_nosuchsandbox0000", str(policy), check=False)
    assert status == 1
    assert err.strip() == ("portcullis: sandbox sbx_nosuchsandbox0000 not found: `portcullis sandbox ls` lists this tenant's "
                           "sandboxes, `portcullis sandbox create` makes one")


def test_sandbox_ls_is_newest_first(gateway):
    ids = []
    for i in range(4):
        if ids:
            time.sleep(1.05)  # creation times are whole seconds
        ids.append(gateway.sandbox({"name": f"n{i}"})["id"])
    _, out, _ = cli(gateway, "sandbox", "ls")
    listed = [line.split()[0] for line in out.splitlines()[1:]]
    assert listed == list(reversed(ids))


def test_login_stores_its_file_under_xdg_config_home_or_home_dot_config(gateway, tmp_path):
    def login(env):
        base = {k: v for k, v in os.environ.items() if k not in ("XDG_CONFIG_HOME", "HOME", "PORTCULLIS_TOKEN")}
        p = subprocess.run([str(BINARY), "login", "--url", gateway.api, "--token", gateway.admin], capture_output=True,
                           text=True, env=dict(base, **env), timeout=30)
        assert p.returncode == 0, p.stderr
        return p.stdout
    home = tmp_path / "home"
    home.mkdir()
    for env in [{"HOME": str(home)}, {"HOME": str(home), "XDG_CONFIG_HOME": ""}]:
        out = login(env)
        path = home / ".config" / "portcullis" / "credentials.json"
        assert str(path) in out and path.exists(), out
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        path.unlink()
    out = login({"HOME": str(home), "XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert (tmp_path / "xdg" / "portcullis" / "credentials.json").exists(), out
