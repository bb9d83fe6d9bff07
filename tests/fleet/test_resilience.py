"""A fleet losing parts of itself (FLEET.md, "Propagation", "Measured"): kill -9 of a node
under traffic, the listeners' connections terminated, PostgreSQL stopped and restarted.
Nothing opens up, nothing acknowledged is lost, every node converges."""
import threading
import time

import pytest

from conftest import fetch, start_fleet, stop_fleet, wait_until


@pytest.fixture
def fleet3(fresh_cluster, tmp_path):
    nodes = start_fleet(tmp_path, fresh_cluster)
    yield fresh_cluster, nodes
    stop_fleet(nodes)


def converged(nodes, on):
    """Every node of `nodes` reports the database's newest version."""
    listing = on.nodes()
    ids = {n.node_id for n in nodes}
    return all(n["applied_policy_version"] >= listing["policy_version"] for n in listing["items"] if n["id"] in ids)


def test_kill_9_of_a_node_under_traffic(fleet3, upstream):
    cluster, (a, b, c) = fleet3
    sbx = b.call("POST", "/api/v1/sandboxes?wait=fleet", {"network": {"allow": ["allowed.test"]}}).json()
    stop = threading.Event()
    seen = {"ok": 0, "bad": []}

    def traffic():
        while not stop.is_set():
            s = fetch(b, sbx, f"http://allowed.test:{upstream.port}/")
            if s == 200:
                seen["ok"] += 1
            else:
                seen["bad"].append(s)
            d = fetch(b, sbx, f"http://denied.test:{upstream.port}/")
            if d != 403:
                seen["bad"].append(("denied.test", d))

    t = threading.Thread(target=traffic)
    t.start()
    acknowledged = []
    for i in range(10):
        r = a.call("POST", f"/api/v1/sandboxes/{sbx['id']}/network/rules", {"action": "allow", "host": f"k{i}.example.test"})
        assert r.status_code == 201
        acknowledged.append(f"k{i}.example.test")
        if i == 4:
            a.kill9()
            a = c  # keep changing through a survivor
    time.sleep(0.5)
    stop.set()
    t.join()
    assert seen["ok"] > 0 and not seen["bad"], seen["bad"][:5]
    for n in (b, c):
        hosts = {r["host"] for r in n.call("GET", f"/api/v1/sandboxes/{sbx['id']}/network/policy").json()["allow_rules"]}
        assert set(acknowledged) <= hosts
    wait_until(lambda: converged((b, c), b), timeout=3, message="survivors converge")
    listing = wait_until(lambda: (lambda l: l if any(n["id"] == "node-0" and n["state"] == "down" for n in l["items"]) else None)(b.nodes()),
                         timeout=14, interval=0.5, message="node-0 reported down")
    assert {n["id"]: n["state"] for n in listing["items"]}["node-1"] == "up"


def test_terminated_listeners_reconnect_and_miss_nothing(fleet3, upstream):
    cluster, (a, b, c) = fleet3
    sbx = a.call("POST", "/api/v1/sandboxes?wait=fleet", {"network": {"allow": ["allowed.test"]}}).json()
    killed = cluster.sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query ILIKE 'LISTEN%'")
    assert int(killed) == 3, "one LISTEN connection per node"
    r = a.call("POST", f"/api/v1/sandboxes/{sbx['id']}/network/rules", {"action": "allow", "host": "other.test"})
    assert r.status_code == 201
    for n in (b, c):
        # The safety poll (1 s here) or the reconnect's catch-up brings it.
        wait_until(lambda: fetch(n, sbx, f"http://other.test:{upstream.port}/", timeout=2) == 200, timeout=3,
                   message=f"{n.node_id} applies the change made while its listener was gone")
    wait_until(lambda: cluster.sql("SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'LISTEN%'") == "3", timeout=5,
               message="every node listens again")
    wait_until(lambda: all(n["state"] == "up" for n in a.nodes()["items"]), timeout=5, message="all up again")


def test_postgres_restart_keeps_enforcing_keeps_audit_and_converges(fleet3, upstream):
    cluster, (a, b, c) = fleet3
    sbx = a.call("POST", "/api/v1/sandboxes?wait=fleet", {"network": {"allow": ["allowed.test"]}}).json()
    r = a.call("POST", f"/api/v1/sandboxes/{sbx['id']}/network/rules?wait=fleet", {"action": "deny", "host": "denied.test"})
    assert r.status_code == 201
    cluster.stop()
    try:
        # The database is gone: every node keeps its last policy, neither opening nor closing.
        outage_paths = []
        for i, n in enumerate((a, b, c)):
            path = f"/during-outage-{i}"
            assert fetch(n, sbx, f"http://allowed.test:{upstream.port}{path}") == 200
            outage_paths.append(path)
            assert fetch(n, sbx, f"http://other.test:{upstream.port}/") == 403
            assert fetch(n, sbx, f"http://denied.test:{upstream.port}/") == 403
        time.sleep(1.5)
    finally:
        cluster.start()
    wait_until(lambda: all(n["state"] == "up" for n in b.nodes()["items"]) and True, timeout=15, interval=0.25,
               message="every node up after the restart")
    # Audit events of traffic that passed while the database was down were kept and written.
    for path in outage_paths:
        a.wait_audit(lambda e, p=path: e.get("path") == p, timeout=10, sandbox=sbx["id"])
    r = b.call("POST", f"/api/v1/sandboxes/{sbx['id']}/network/rules", {"action": "allow", "host": "other.test"})
    assert r.status_code == 201
    for n in (a, c):
        wait_until(lambda: fetch(n, sbx, f"http://other.test:{upstream.port}/", timeout=2) == 200, timeout=3,
                   message=f"{n.node_id} applies a change made after the restart")
    wait_until(lambda: converged((a, b, c), a), timeout=3, message="every node converged")


def test_a_single_node_keeps_the_audit_of_traffic_while_postgres_is_stopped(fresh_cluster, tmp_path, upstream):
    """The reproduction of the loss reported in issue 19: one node on PostgreSQL."""
    (node,) = start_fleet(tmp_path, fresh_cluster, count=1)
    try:
        sbx = node.sandbox()
        fresh_cluster.stop()
        try:
            for i in range(5):
                assert fetch(node, sbx, f"http://allowed.test:{upstream.port}/stopped-{i}") == 200
            time.sleep(2)
        finally:
            fresh_cluster.start()
        for i in range(5):
            node.wait_audit(lambda e, p=f"/stopped-{i}": e.get("path") == p, timeout=15, sandbox=sbx["id"])
    finally:
        stop_fleet([node])
