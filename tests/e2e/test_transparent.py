"""The transparent listener with real redirects: a client network namespace whose TCP the
gateway's namespace redirects (nftables `redirect`) to `serve --transparent`, servers on
documentation addresses in an "internet" namespace. Root only (network namespaces, veth,
nftables); everything runs in a private namespace made by `unshare --net --mount`."""
import os
import pathlib
import shutil

import pytest

import transparent_net

HERE = pathlib.Path(__file__).resolve().parent
BINARY = HERE.parents[1] / ".build" / "debug" / "portcullis"

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: creates network namespaces, veth pairs and nftables rules"),
    pytest.mark.skipif(shutil.which("nft") is None, reason="nft is absent (apt package nftables; scripts/test installs it)"),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is absent (needed to mint the test certificate)"),
]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    if not BINARY.exists():
        pytest.fail(f"{BINARY} is missing: build first (swift build)")
    return transparent_net.run_scenario("transparent_scenario.py", tmp_path_factory.mktemp("transparent"), 300)


def entries(results, **fields):
    return [e for e in results["audit"] if e.get("via") == "transparent" and all(e.get(k) == v for k, v in fields.items())]


def test_an_allowed_name_over_tls_passes(results):
    assert results["allowed"]["status"] == 0, results["allowed"]
    assert results["allowed"]["stdout"] == "hello from 198.51.100.10\n"
    [e] = entries(results, host="allowed.test", action="allow")
    assert e["sni"] == "allowed.test" and e["address"] == "198.51.100.10" and e["port"] == 443
    assert e["bytes_up"] > 0 and e["bytes_down"] > 0


def test_a_denied_name_is_closed_and_logged_as_a_transparent_reject(results):
    assert results["denied"]["status"] != 0, results["denied"]
    [e] = entries(results, host="denied.test")
    assert e["action"] == "reject" and e["sni"] == "denied.test" and e["address"] == "198.51.100.20"
    assert e["bytes_down"] == 0


def test_an_allowed_sni_sent_to_the_denied_names_address_is_an_address_mismatch(results):
    assert results["mismatch"]["status"] != 0, results["mismatch"]
    [e] = entries(results, rejected_by="address-mismatch")
    assert e["host"] == "allowed.test" and e["address"] == "198.51.100.20" and e["action"] == "reject"


def test_an_unlisted_ip_is_rejected_in_allowlist_mode_and_joins_the_pending_queue(results):
    assert results["plain_ip"]["status"] != 0, results["plain_ip"]
    [e] = entries(results, host="198.51.100.10", port=80)
    assert e["action"] == "reject" and e["rejected_by"] == "default-deny" and e["method"] == "GET"
    pending = results["pending"]
    items = pending.get("items", pending.get("data", pending)) if isinstance(pending, dict) else pending
    assert any(i["host"] == "198.51.100.10" and i["port"] == 80 for i in items), pending


def test_a_connection_that_was_not_redirected_is_closed_without_a_byte(results):
    assert results["direct_read"] in ("", ) or results["direct_read"].startswith("error"), results["direct_read"]
    # TODO: the reject line (`no-original-destination`, no tenant) is not listed by
    # /api/v1/audit here; the handler test covers its fields. Check how tenantless events are listed.
