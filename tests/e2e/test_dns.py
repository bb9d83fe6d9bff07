"""The DNS gateway end to end: `dig` against `serve --dns 127.0.0.1:0` (conftest passes it).

The sandbox is identified by its source address (`source_addresses: ["127.0.0.1"]`, which
`serve --claimable 127.0.0.0/8` lets it claim), since DNS carries no credential; a query
from another loopback address (127.0.0.2) maps to no sandbox and is refused. Every name is a `.test` name from the gateway's hosts file and the
gateway runs with `--no-system-resolver` and no `--upstream-dns`, so nothing is forwarded.
"""
import shutil
import subprocess

import pytest

from conftest import Gateway


def dig(gateway, name, qtype="A", source=None, tcp=False):
    if shutil.which("dig") is None:
        pytest.fail("dig is not installed (scripts/test installs dnsutils)")
    assert gateway.dns_port, "serve printed no DNS gateway address"
    args = ["dig", "@127.0.0.1", "-p", str(gateway.dns_port), name, qtype, "+tries=1", "+time=3", "+noall", "+comments", "+answer"]
    if source:
        args += ["-b", source]
    if tcp:
        args.append("+tcp")
    p = subprocess.run(args, capture_output=True, text=True, timeout=20)
    return p.stdout


def status(output):
    for line in output.splitlines():
        if "status:" in line:
            return line.split("status:")[1].split(",")[0].strip()
    raise AssertionError(f"no status in dig output: {output}")


def answers(output):
    return [line.split() for line in output.splitlines() if line and not line.startswith(";")]


@pytest.fixture
def gateway(tmp_path):
    # DNS carries no credential, so the sandbox is its source address, and here that is a
    # loopback one: the operator lets sandboxes claim loopback with --claimable (docs/api.md).
    g = Gateway(tmp_path, extra_args=("--claimable", "127.0.0.0/8"))
    yield g
    g.stop()


@pytest.fixture
def sandbox(gateway):
    return gateway.sandbox({"network": {"allow": ["allowed.test"], "deny": ["denied.test"]},
                            "source_addresses": ["127.0.0.1"]})


def test_allowed_name_is_answered_from_the_hosts_file(gateway, sandbox):
    for tcp in (False, True):
        out = dig(gateway, "allowed.test", tcp=tcp)
        assert status(out) == "NOERROR", out
        rows = answers(out)
        assert [r[-1] for r in rows] == ["127.0.0.1"], out
        assert rows[0][3] == "A"
    gateway.wait_audit(lambda e: e["via"] == "dns" and e["host"] == "allowed.test" and e["action"] == "allow",
                       sandbox=sandbox["id"])


def test_a_listed_name_without_aaaa_gets_noerror_and_no_answer(gateway, sandbox):
    out = dig(gateway, "allowed.test", "AAAA")
    assert status(out) == "NOERROR", out
    assert answers(out) == []


def test_denied_name_is_refused_and_audited(gateway, sandbox):
    out = dig(gateway, "denied.test")
    assert status(out) == "REFUSED", out
    items = gateway.wait_audit(lambda e: e["via"] == "dns" and e["host"] == "denied.test", sandbox=sandbox["id"])
    event = next(e for e in items if e["via"] == "dns" and e["host"] == "denied.test")
    assert event["action"] == "reject"
    assert event["rejected_by"].startswith("rul_")
    assert event["port"] == 53


def test_unlisted_name_in_allowlist_is_refused_as_default_deny(gateway, sandbox):
    out = dig(gateway, "other.test")
    assert status(out) == "REFUSED", out
    gateway.wait_audit(lambda e: e["via"] == "dns" and e["host"] == "other.test" and e["rejected_by"] == "default-deny",
                       sandbox=sandbox["id"])


def test_unknown_source_is_refused(gateway, sandbox):
    # 127.0.0.2 belongs to no sandbox. Its audit event carries no tenant, so (like a proxy
    # attempt without a credential) it is in no tenant's GET /api/v1/audit.
    out = dig(gateway, "allowed.test", source="127.0.0.2")
    assert status(out) == "REFUSED", out
    assert answers(out) == []
    # The sandbox's own address still gets its answer.
    assert status(dig(gateway, "allowed.test")) == "NOERROR"
