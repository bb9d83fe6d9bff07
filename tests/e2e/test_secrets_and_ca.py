"""Inside HTTPS, around termination (INSPECTION.md: the sandbox's CA, secrets at rest, the
CLI's CA bundle, rules' inspect), against a real `portcullis serve`."""
import base64
import json
import os
import pathlib
import ssl
import stat
import subprocess

import requests

from conftest import ADMIN, BINARY, Gateway, cli

BEGIN = "-----BEGIN CERTIFICATE-----"


def decode(pem, tmp_path):
    """The certificate's fields as Python's ssl module reads them."""
    path = tmp_path / "decode.pem"
    path.write_text(pem)
    return ssl._ssl._test_decode_cert(str(path))


def serve_fails(tmp_path, *extra, env=None):
    """Starts serve on the fixture's data directory, expecting it to stop; returns (status, stderr)."""
    args = [str(BINARY), "serve", "--data-dir", str(tmp_path / "data"), "--api", "127.0.0.1:0", "--proxy", "127.0.0.1:0",
            "--socks", "127.0.0.1:0", "--dns", "127.0.0.1:0", "--transparent", "127.0.0.1:0", "--no-system-resolver",
            "--admin-token", ADMIN, *extra]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60, env=dict(os.environ, **(env or {})))
    return p.returncode, p.stderr


def refusal_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("portcullis: ")]


def test_first_start_creates_a_0600_key_and_each_sandbox_gets_its_own_ca(tmp_path):
    g = Gateway(tmp_path)
    try:
        key = g.data / "secrets.key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert len(base64.b64decode(key.read_text().strip(), validate=True)) == 32
        a, b = g.sandbox(), g.sandbox()
        r = g.call("GET", f"/api/v1/sandboxes/{a['id']}/ca.pem")
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("application/x-pem-file")
        assert r.text.startswith(BEGIN) and "PRIVATE" not in r.text
        cert = decode(r.text, tmp_path)
        assert a["id"] in str(cert["subject"])
        assert cert["subject"] == cert["issuer"]
        years = (ssl.cert_time_to_seconds(cert["notAfter"]) - ssl.cert_time_to_seconds(cert["notBefore"])) / (365.25 * 86400)
        assert abs(years - 10) < 0.01
        assert g.call("GET", f"/api/v1/sandboxes/{b['id']}/ca.pem").text != r.text
        stranger = g.call("POST", "/api/v1/tenants", {"name": "stranger"}).json()["api_key"]
        assert g.call("GET", f"/api/v1/sandboxes/{a['id']}/ca.pem", key=stranger).status_code == 404
        assert g.call("DELETE", f"/api/v1/sandboxes/{b['id']}").status_code == 204
        assert g.call("GET", f"/api/v1/sandboxes/{b['id']}/ca.pem").status_code == 404
        assert key.read_bytes() not in (g.data / "portcullis.sqlite").read_bytes()
    finally:
        g.stop()
    g.start()
    try:
        assert g.call("GET", f"/api/v1/sandboxes/{a['id']}/ca.pem").text == r.text, "the same CA after a restart"
    finally:
        g.stop()


def test_a_wrong_key_stops_serve_with_one_line_naming_the_file(tmp_path):
    g = Gateway(tmp_path)
    g.sandbox()
    g.stop()
    key = g.data / "secrets.key"
    key.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    wrong = key.read_bytes()
    status, stderr = serve_fails(tmp_path)
    assert status == 1, stderr
    lines = refusal_lines(stderr)
    assert len(lines) == 1 and str(key) in lines[0] and "not the key" in lines[0], stderr
    assert key.read_bytes() == wrong, "the file is left as it was"


def test_a_missing_key_file_for_a_database_with_secrets_stops_serve_and_creates_no_key(tmp_path):
    g = Gateway(tmp_path)
    g.sandbox()
    g.stop()
    key = g.data / "secrets.key"
    key.unlink()
    status, stderr = serve_fails(tmp_path)
    assert status == 1, stderr
    lines = refusal_lines(stderr)
    assert len(lines) == 1 and str(key) in lines[0] and "missing" in lines[0], stderr
    assert not key.exists()


def test_the_key_file_can_live_elsewhere_named_by_flag_or_variable(tmp_path):
    elsewhere = tmp_path / "keys"
    elsewhere.mkdir()
    g = Gateway(tmp_path, extra_args=("--secrets-key-file", str(elsewhere / "portcullis.key")))
    try:
        g.sandbox()
        assert (elsewhere / "portcullis.key").exists() and not (g.data / "secrets.key").exists()
    finally:
        g.stop()
    status, stderr = serve_fails(tmp_path, env={"PORTCULLIS_SECRETS_KEY_FILE": str(elsewhere / "other.key")})
    assert status == 1 and str(elsewhere / "other.key") in stderr, "the variable names the file serve looks for"


def test_upstream_ca_files_are_checked_at_start(tmp_path):
    status, stderr = serve_fails(tmp_path, "--upstream-ca", str(tmp_path / "missing.pem"))
    assert status == 2 and "missing.pem" in stderr
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    status, stderr = serve_fails(tmp_path, "--upstream-ca", str(junk))
    assert status == 1 and str(junk) in stderr, stderr


def test_sandbox_create_env_ca_file_writes_the_bundle_and_exports_the_variables(gateway, tmp_path):
    bundle = tmp_path / "ca-bundle.pem"
    _, out, err = cli(gateway, "sandbox", "create", "--env", "--ca-file", str(bundle))
    lines = out.splitlines()
    assert lines[0].startswith("export HTTP_PROXY=http://sbx_")
    sandbox_id = lines[0].split("http://")[1].split(":")[0]
    assert lines[-2] == f"export PORTCULLIS_SANDBOX={sandbox_id}", "the sandbox line stays, the bundle's line comes after it"
    p = str(bundle)
    assert lines[-1] == (f"export SSL_CERT_FILE={p} REQUESTS_CA_BUNDLE={p} CURL_CA_BUNDLE={p} "
                         f"NODE_EXTRA_CA_CERTS={p} GIT_SSL_CAINFO={p}")
    sandbox_id = lines[0].split("http://")[1].split(":")[0]
    ca = gateway.call("GET", f"/api/v1/sandboxes/{sandbox_id}/ca.pem").text
    text = bundle.read_text()
    assert text.rstrip().endswith(ca.rstrip()), "the sandbox's CA comes last"
    system = pathlib.Path("/etc/ssl/certs/ca-certificates.crt")
    if system.exists():
        assert text.startswith(system.read_text()), "after the system's bundle"
        assert text.count(BEGIN) == system.read_text().count(BEGIN) + 1
    context = ssl.create_default_context(cafile=str(bundle))
    assert context.cert_store_stats()["x509_ca"] >= 1, "the bundle loads as a CA file"

    again = tmp_path / "again.pem"
    _, out, _ = cli(gateway, "sandbox", "show", sandbox_id, "--env", "--ca-file", str(again))
    assert out.splitlines()[-1].startswith(f"export SSL_CERT_FILE={again} ")
    assert again.read_text() == text


def test_policy_allow_inspect_flags(gateway):
    sbx = gateway.sandbox()
    _, out, _ = cli(gateway, "policy", "allow", "network", "api.openai.test", "--sandbox", sbx["id"], "--inspect", "--json")
    assert '"inspect" : true' in out or '"inspect": true' in out
    cli(gateway, "policy", "allow", "network", "pypi.test", "--sandbox", sbx["id"], "--no-inspect", "--paths", "/simple/*")
    cli(gateway, "policy", "allow", "network", "files.pypi.test", "--sandbox", sbx["id"])
    rules = gateway.call("GET", f"/api/v1/sandboxes/{sbx['id']}/network/policy").json()["allow_rules"]
    assert [(r["host"], r["inspect"]) for r in rules] == [("api.openai.test", True), ("pypi.test", False), ("files.pypi.test", None)]
    r = gateway.call("POST", f"/api/v1/sandboxes/{sbx['id']}/network/rules", {"action": "deny", "host": "x.test", "inspect": True})
    assert r.status_code == 400 and r.json()["error"] == "inspect applies to allow rules only"
    assert requests.get(gateway.api + "/readyz").status_code == 200


def test_policy_ls_export_and_mode_keep_inspect(gateway):
    sbx = gateway.sandbox()
    cli(gateway, "policy", "allow", "network", "api.openai.test", "--sandbox", sbx["id"], "--inspect")
    cli(gateway, "policy", "allow", "network", "pypi.test", "--sandbox", sbx["id"], "--no-inspect")
    cli(gateway, "policy", "allow", "network", "files.pypi.test", "--sandbox", sbx["id"])
    _, out, _ = cli(gateway, "policy", "ls", sbx["id"])
    local = [line + " " for line in out.splitlines() if line.startswith("local:")]
    marks = {host: next(line for line in local if f" {host} " in line) for host in ("api.openai.test", "pypi.test", "files.pypi.test")}
    assert "allow (inspect)" in marks["api.openai.test"] and "allow (no inspect)" in marks["pypi.test"]
    assert "inspect" not in marks["files.pypi.test"]
    _, out, _ = cli(gateway, "export", sbx["id"])
    exported = {r["host"]: r.get("inspect") for r in json.loads(out)["allow_rules"]}
    assert exported == {"api.openai.test": True, "pypi.test": False, "files.pypi.test": None}
    before = gateway.call("GET", f"/api/v1/sandboxes/{sbx['id']}/network/policy").json()["allow_rules"]
    cli(gateway, "policy", "mode", "allowlist", "--sandbox", sbx["id"])
    after = gateway.call("GET", f"/api/v1/sandboxes/{sbx['id']}/network/policy").json()["allow_rules"]
    assert [(r["id"], r["inspect"]) for r in after] == [(r["id"], r["inspect"]) for r in before], "policy mode keeps ids and inspect"
