"""Golden-output tests of the CLI against a live serve: ids, secrets, times and ports are
replaced by placeholders, the rest must match tests/e2e/golden/*.txt byte for byte.
Regenerate with PORTCULLIS_UPDATE_GOLDEN=1 after an intended change, and review the diff."""
import os
import pathlib
import re

from conftest import cli

GOLDEN = pathlib.Path(__file__).parent / "golden"


def normalise(text, upstream_port=None):
    text = re.sub(r"sbx_[a-z0-9]{20}", "sbx_ID", text)
    text = re.sub(r"rul_[a-z0-9]{20}", "rul_ID", text)
    text = re.sub(r"pnd_[0-9a-f]{16}", "pnd_ID", text)
    text = re.sub(r"pxt_[a-z0-9]{32}", "pxt_SECRET", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TIME", text)
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)
    if upstream_port:
        text = text.replace(f":{upstream_port}", ":UPSTREAM")
    # Column widths follow the longest cell; ids and times were replaced, so re-align.
    return "\n".join(re.sub(r" {2,}", "  ", line).rstrip() for line in text.splitlines()) + "\n"


def check(name, text):
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("PORTCULLIS_UPDATE_GOLDEN") == "1" or not path.exists():
        if os.environ.get("CI") == "true" and not path.exists():
            raise AssertionError(f"golden file {path} is missing")
        path.write_text(text)
    assert text == path.read_text(), f"{name} differs from {path}"


def test_cli_outputs(gateway, upstream):
    _, out, _ = cli(gateway, "sandbox", "create", "--name", "golden", "--allow", "pypi.test", "--deny", "ifconfig.test", "--profile", "pypi")
    check("sandbox-create", normalise(out))
    sid = re.search(r"sbx_[a-z0-9]{20}", out).group(0)
    _, out, _ = cli(gateway, "sandbox", "show", sid, "--env")
    check("sandbox-show-env", normalise(out))
    _, out, _ = cli(gateway, "policy", "ls", sid)
    check("policy-ls", normalise(out))
    _, out, _ = cli(gateway, "explain", sid, "other.test:443", check=False)
    check("explain-reject", normalise(out))
    _, out, _ = cli(gateway, "profile", "show", "pypi")
    check("profile-show-pypi", normalise(out))
    status, _, err = cli(gateway, "sandbox", "show", "sbx_doesnotexist00000", check=False)
    assert status == 1
    check("error-unknown-sandbox", normalise(err))
    status, _, err = cli(gateway, "policy", "allow", "network", "*.com", "--sandbox", sid, check=False)
    assert status == 1
    check("error-bad-host", normalise(err))


def test_cli_failures_are_one_line_on_stderr_with_a_non_zero_status(gateway):
    import os as _os, subprocess as _sp
    from conftest import BINARY
    def run(env):
        p = _sp.run([str(BINARY), "sandbox", "ls"], capture_output=True, text=True, timeout=30,
                    env=dict(_os.environ, XDG_CONFIG_HOME=str(gateway.tmp / "noconfig"), **env))
        return p.returncode, p.stdout, p.stderr
    status, out, err = run({"PORTCULLIS_URL": gateway.api, "PORTCULLIS_TOKEN": "wrong-key"})
    assert status == 1 and out == "" and err.count("\n") == 1
    check("error-bad-key", normalise(err))
    status, out, err = run({"PORTCULLIS_URL": "http://127.0.0.1:9", "PORTCULLIS_TOKEN": "k"})
    assert status == 3 and out == "" and err.count("\n") == 1
    assert err.startswith("portcullis: cannot reach the Portcullis API")
    status, _, err = run({"PORTCULLIS_URL": gateway.api, "PORTCULLIS_TOKEN": ""})
    assert status == 2 and "PORTCULLIS_TOKEN" in err
