"""`portcullis run` with credentials (INSPECTION.md, "CLI and runner"): every credential
attached to the sandbox is in the command's environment as its placeholder — under the
`--credential NAME:ENV` name, else the credential's name in upper case — and the value is
nowhere the command or the caller can see. Root only, like test_run.py, whose namespace
and stand-in listeners these tests reuse.
"""
import re

import pytest

from test_run import api, internet, leftovers, run, skip_reason, standins  # noqa: F401 (fixtures)

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")

CANARY = "CANARY-run-3f9a0c1e5b7d2a4c6e8f0b1d3a5c7e9f"
SCRIPT = 'echo "OPENAI_KEY=$OPENAI_KEY"; echo "SEARCH=$SEARCH"; echo "MINE=$MINE"; env'


def credential(api, name, host):
    body = {"name": name, "value": CANARY + name, "binding": {"host": host},
            "placement": {"kind": "header", "name": "Authorization", "format": "Bearer {secret}"}}
    r = api.call("POST", "/api/v1/credentials", body)
    assert r.status_code in (201, 409), r.text


def placeholders(api, sandbox_id):
    r = api.call("GET", f"/api/v1/sandboxes/{sandbox_id}/network/credentials")
    assert r.status_code == 200, r.text
    return {i["name"]: i["placeholder"] for i in r.json()["items"]}


def test_run_puts_every_attached_placeholder_in_the_command_environment(tmp_path, api, internet, standins):
    credential(api, "openai-key", "api.openai.test")
    credential(api, "search", "search.example.test")
    sbx = api.sandbox({})
    assert api.call("POST", f"/api/v1/sandboxes/{sbx['id']}/network/credentials/openai-key").status_code == 200
    status, out, err = run(api, *standins.args(), "--sandbox", sbx["id"], "--credential", "search:MINE", "--",
                           "sh", "-c", SCRIPT)
    assert status == 0, err
    attached = placeholders(api, sbx["id"])
    assert set(attached) == {"openai-key", "search"}, "--credential attached search to the sandbox"
    lines = out.splitlines()
    assert lines[0] == f"OPENAI_KEY={attached['openai-key']}", "an attached credential under its default name"
    assert lines[1] == "SEARCH=", "a credential named by --credential NAME:ENV is only under ENV"
    assert lines[2] == f"MINE={attached['search']}"
    assert all(re.fullmatch(r"pcx_[a-z2-7]{32}", p) for p in attached.values())
    assert CANARY not in out + err, "the value never reaches the command or the runner's output"
    assert leftovers() == []


def test_run_new_with_a_credential_and_a_refused_one(tmp_path, api, internet, standins):
    credential(api, "openai-key", "api.openai.test")
    status, out, err = run(api, *standins.args(), "--new", "--credential", "openai-key", "--", "sh", "-c", SCRIPT)
    assert status == 0, err
    assert re.fullmatch(r"OPENAI_KEY=pcx_[a-z2-7]{32}", out.splitlines()[0]), out
    assert CANARY not in out + err
    # An unknown credential: refused before the command runs, and the new sandbox is not left.
    before = len(api.call("GET", "/api/v1/sandboxes").json()["items"])
    status, out, err = run(api, *standins.args(), "--new", "--credential", "nope", "--", "sh", "-c", "echo RAN")
    assert status != 0 and "RAN" not in out and "nope" in err, (status, out, err)
    assert len(api.call("GET", "/api/v1/sandboxes").json()["items"]) == before
    # A variable the runner owns is refused on the command line.
    status, _, err = run(api, "--new", "--credential", "openai-key:PATH", "--", "true")
    assert status == 2 and "PATH" in err
    assert leftovers() == []
