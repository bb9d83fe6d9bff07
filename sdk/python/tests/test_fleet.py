"""The fleet through the SDK (FLEET.md), against two `serve` nodes on a PostgreSQL cluster
of this module's own (tests/fleet's harness, loopback only): `client.nodes.list()`,
`wait="fleet"` answering as usual once both nodes have the change, and FleetLaggingError
when one node (stopped with SIGSTOP: alive, not yet `down`, applying nothing) had not
applied it within the API's 5 s. Needs PostgreSQL (scripts/test installs it)."""
import asyncio
import importlib.util
import os
import pathlib
import signal
import time

import pytest

import portcullis
from conftest import ROOT

_spec = importlib.util.spec_from_file_location("portcullis_fleet_harness", ROOT / "tests" / "fleet" / "conftest.py")
fleet_harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fleet_harness)
if os.environ.get("PORTCULLIS_BINARY"):
    fleet_harness._e2e.BINARY = pathlib.Path(os.environ["PORTCULLIS_BINARY"]).resolve()
wait_until = fleet_harness.wait_until


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    cluster = fleet_harness.Cluster()
    started = []
    try:
        for name in ("node-a", "node-b"):
            d = tmp_path_factory.mktemp(name)
            started.append(fleet_harness.Node(d, cluster, name))
        yield started
    finally:
        fleet_harness.stop_fleet(started)
        cluster.close()


def up_to_date(admin, version):
    """The fleet once every node reports `version` applied (None until then)."""
    fleet = admin.nodes.list()
    return fleet if all(n.state == "up" and n.applied_policy_version >= version and n.lag == 0 for n in fleet) else None


def test_nodes_and_wait_fleet_when_every_node_keeps_up(nodes):
    a, b = nodes
    with portcullis.Portcullis(base_url=a.api, api_key=a.admin) as admin:
        fleet = wait_until(lambda: (lambda f: f if len(f) == 2 and all(n.state == "up" for n in f) else None)(admin.nodes.list()),
                           timeout=10, message="two nodes up")
        assert [n.id for n in fleet] == ["node-a", "node-b"]
        assert all(isinstance(n, portcullis.Node) and n.lag == fleet.policy_version - n.applied_policy_version for n in fleet)
        sbx = admin.sandboxes.create(network={"allow": ["allowed.test"]}, wait="fleet")
        rule = sbx.network.allow("other.test", wait="fleet")
        # Answered: both nodes have applied it, so node-b serves the new rule at once.
        with portcullis.Portcullis(base_url=b.api, api_key=b.admin) as through_b:
            assert rule.id in {r.id for r in through_b.sandboxes.network(sbx.id).get_policy().allow_rules}
            fleet = through_b.nodes.list()
        assert fleet.lagging() == [] and all(n.applied_policy_version == fleet.policy_version for n in fleet)
        sbx.destroy(wait="fleet")


def test_a_node_that_does_not_apply_in_time_is_a_fleet_lagging_error(nodes):
    a, b = nodes
    with portcullis.Portcullis(base_url=a.api, api_key=a.admin) as admin:
        sbx = admin.sandboxes.create(wait="fleet")
        b.proc.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            with pytest.raises(portcullis.FleetLaggingError) as info:
                sbx.network.allow("other.test", note="made all the same", wait="fleet")
            took = time.monotonic() - started
        finally:
            b.proc.send_signal(signal.SIGCONT)
        e = info.value
        assert e.lagging == ["node-b"] and e.policy_version >= 1 and 4.5 <= took < 8
        # The change was made: it is in the policy, and node-b catches up once it runs again.
        assert [r.note for r in sbx.network.get_policy().allow_rules] == ["made all the same"]
        fleet = wait_until(lambda: up_to_date(admin, e.policy_version), timeout=10, message="node-b catching up")
        assert fleet.policy_version >= e.policy_version

    async def run():
        async with portcullis.AsyncPortcullis(base_url=a.api, api_key=a.admin) as client:
            b.proc.send_signal(signal.SIGSTOP)
            try:
                with pytest.raises(portcullis.FleetLaggingError) as info:
                    await client.network.lockdown(wait="fleet")
            finally:
                b.proc.send_signal(signal.SIGCONT)
            assert info.value.lagging == ["node-b"]
            assert (await client.network.get_policy()).default_mode == "allowlist"
            await client.network.observe(wait="fleet")
            await client.sandboxes.delete(sbx.id, wait="fleet")

    asyncio.run(run())
