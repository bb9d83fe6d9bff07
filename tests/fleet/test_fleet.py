"""A fleet of three `serve` nodes on one PostgreSQL (FLEET.md), black box: policy through
one node enforced by the others within a second, `?wait=fleet`, live tunnels closed
fleet-wide, shared pending counts, one audit log and live stream, and concurrent changes
ending in one agreed policy."""
import base64
import json
import socket
import threading
import time

import pytest
import requests

from conftest import fetch, start_fleet, stop_fleet, wait_until


@pytest.fixture(scope="module")
def fleet(cluster, tmp_path_factory):
    nodes = start_fleet(tmp_path_factory.mktemp("fleet"), cluster)
    yield nodes
    stop_fleet(nodes)


def policy_of(node, sandbox_id):
    r = node.call("GET", f"/api/v1/sandboxes/{sandbox_id}/network/policy")
    assert r.status_code == 200, r.text
    return r.json()


def test_every_node_registers_and_reports_up(fleet):
    listing = wait_until(lambda: (lambda l: l if len(l["items"]) == 3 and all(n["state"] == "up" for n in l["items"]) else None)(fleet[0].nodes()),
                         timeout=10, message="three nodes up")
    ids = [n["id"] for n in listing["items"]]
    assert ids == ["node-0", "node-1", "node-2"]
    for n in listing["items"]:
        assert set(n) >= {"id", "api_address", "proxy_address", "version", "started_at", "last_heartbeat",
                          "applied_policy_version", "lag", "state"}
        assert n["lag"] == listing["policy_version"] - n["applied_policy_version"] >= 0
    tenant = fleet[0].call("POST", "/api/v1/tenants", {"name": "fleet-nodes-tenant"}).json()
    r = requests.get(fleet[1].api + "/api/v1/nodes", headers={"Authorization": f"Bearer {tenant['api_key']}"}, timeout=5)
    assert r.status_code == 403, "the node list is for the admin key only"


def test_a_change_through_one_node_is_enforced_by_the_others_within_a_second(fleet, upstream):
    a, b, c = fleet
    sbx = a.sandbox({"network": {"allow": ["allowed.test"]}})
    # The sandbox reaches every node within a second: its credentials work through b and c.
    for n in (b, c):
        wait_until(lambda: fetch(n, sbx, f"http://allowed.test:{upstream.port}/", timeout=2) == 200, timeout=1.0,
                   message=f"{n.node_id} knows the new sandbox")
        assert fetch(n, sbx, f"http://other.test:{upstream.port}/") == 403
    r = a.call("POST", f"/api/v1/sandboxes/{sbx['id']}/network/rules", {"action": "allow", "host": "other.test"})
    assert r.status_code == 201, r.text
    committed = time.time()
    for n in (b, c):
        wait_until(lambda: fetch(n, sbx, f"http://other.test:{upstream.port}/", timeout=2) == 200, timeout=1.0,
                   message=f"{n.node_id} allows other.test")
    assert time.time() - committed < 1.0
    r = c.call("POST", f"/api/v1/sandboxes/{sbx['id']}/network/rules", {"action": "deny", "host": "allowed.test"})
    assert r.status_code == 201, r.text
    committed = time.time()
    for n in (a, b):
        wait_until(lambda: fetch(n, sbx, f"http://allowed.test:{upstream.port}/", timeout=2) == 403, timeout=1.0,
                   message=f"{n.node_id} denies allowed.test")
    assert time.time() - committed < 1.0


def test_wait_fleet_answers_once_every_node_has_the_change(fleet, upstream):
    a, b, c = fleet
    r = b.call("POST", "/api/v1/sandboxes?wait=fleet", {"network": {"allow": ["allowed.test"]}})
    assert r.status_code == 201, r.text
    sbx = r.json()
    r = a.call("POST", f"/api/v1/sandboxes/{sbx['id']}/network/rules?wait=fleet", {"action": "allow", "host": "other.test"})
    assert r.status_code == 201, r.text
    # No waiting here: every node already enforces it.
    for n in (a, b, c):
        assert fetch(n, sbx, f"http://other.test:{upstream.port}/") == 200
    version = a.nodes()["policy_version"]
    assert all(n["applied_policy_version"] >= version for n in a.nodes()["items"])
    r = a.call("POST", f"/api/v1/sandboxes/{sbx['id']}/network/rules?wait=soon", {"action": "allow", "host": "pypi.test"})
    assert r.status_code == 400 and "wait" in r.json()["error"]


def test_wait_fleet_names_a_node_that_did_not_apply_in_time(fleet):
    a, b, c = fleet
    sbx = a.sandbox()
    c.proc.send_signal(19)  # SIGSTOP: alive (not yet down) but applying nothing
    try:
        started = time.time()
        r = a.call("POST", f"/api/v1/sandboxes/{sbx['id']}/network/rules?wait=fleet", {"action": "allow", "host": "other.test"})
        took = time.time() - started
    finally:
        c.proc.send_signal(18)  # SIGCONT
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["lagging"] == ["node-2"]
    assert isinstance(body["policy_version"], int) and body["policy_version"] > 0
    # The call's own answer is kept: the rule it created, with its id.
    assert body["status"] == 201, body
    assert body["result"]["host"] == "other.test" and body["result"]["id"], body
    assert 4.5 <= took < 8
    wait_until(lambda: all(n["applied_policy_version"] >= body["policy_version"] for n in a.nodes()["items"]),
               timeout=5, message="node-2 catches up after SIGCONT")


def open_tunnel(node, sandbox, host, port):
    s = socket.create_connection(("127.0.0.1", node.proxy_port), timeout=5)
    p = sandbox["proxy"]
    auth = base64.b64encode(f"{p['username']}:{p['password']}".encode()).decode()
    s.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\nProxy-Authorization: Basic {auth}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        assert chunk, "the proxy closed before answering CONNECT"
        head += chunk
    assert head.startswith(b"HTTP/1.1 200"), head
    return s


def test_a_live_tunnel_on_one_node_is_closed_after_a_deny_on_another(fleet, upstream):
    a, b, c = fleet
    r = a.call("POST", "/api/v1/sandboxes?wait=fleet", {"network": {"allow": ["allowed.test"]}})
    sbx = r.json()
    tunnel = open_tunnel(b, sbx, "allowed.test", upstream.port)
    tunnel.sendall(f"GET /inside HTTP/1.1\r\nHost: allowed.test:{upstream.port}\r\n\r\n".encode())
    # The head and the body may come in separate segments: read until the body is here.
    tunnel.settimeout(5)
    answer = b""
    while b"hello from" not in answer:
        chunk = tunnel.recv(4096)
        assert chunk, f"the tunnel closed before the response ended: {answer!r}"
        answer += chunk
    r = c.call("POST", f"/api/v1/sandboxes/{sbx['id']}/network/rules", {"action": "deny", "host": "allowed.test"})
    assert r.status_code == 201, r.text
    committed = time.time()
    tunnel.settimeout(3)
    try:
        while tunnel.recv(4096):
            pass
    except ConnectionResetError:
        pass
    assert time.time() - committed < 1.0, "the tunnel on node-1 closed within a second of a deny through node-2"
    tunnel.close()


def test_pending_counts_add_up_from_concurrent_requests_through_two_nodes(fleet, upstream):
    a, b, c = fleet
    sbx = a.call("POST", "/api/v1/sandboxes?wait=fleet", {"network": {"allow": ["allowed.test"]}}).json()
    per_node = 20

    def burst(node):
        for _ in range(per_node):
            assert fetch(node, sbx, f"http://other.test:{upstream.port}/") == 403

    threads = [threading.Thread(target=burst, args=(n,)) for n in (a, b) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    def counted():
        items = c.call("GET", f"/api/v1/sandboxes/{sbx['id']}/network/pending").json()["items"]
        return items if items and items[0]["count"] == 4 * per_node else None

    items = wait_until(counted, timeout=10, message="80 pending bumps")
    assert len(items) == 1 and items[0]["host"] == "other.test"


def test_one_nodes_audit_is_in_anothers_api_and_live_stream(fleet, upstream):
    a, b, c = fleet
    sbx = a.call("POST", "/api/v1/sandboxes?wait=fleet", {}).json()
    stream = requests.get(c.api + f"/api/v1/audit/stream?sandbox={sbx['id']}", headers={"Authorization": f"Bearer {c.admin}"},
                          stream=True, timeout=10)
    assert stream.status_code == 200
    lines = stream.iter_lines()
    assert next(lines).startswith(b":")
    got = []

    def read():
        for line in lines:
            if line.startswith(b"data:"):
                got.append(json.loads(line[5:]))
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(0.3)
    sent = time.time()
    assert fetch(a, sbx, f"http://allowed.test:{upstream.port}/from-node-0") == 200
    reader.join(timeout=3)
    assert got, "node-2's live stream showed node-0's traffic"
    assert time.time() - sent < 2.5
    assert got[0]["sandbox_id"] == sbx["id"] and got[0]["host"] == "allowed.test"
    stream.close()
    items = c.wait_audit(lambda e: e.get("path") == "/from-node-0", sandbox=sbx["id"])
    assert items


def test_concurrent_changes_through_all_three_nodes_end_in_one_agreed_policy(fleet):
    sbx = fleet[0].sandbox({"network": {"allow": ["allowed.test"]}})
    errors = []

    def add(node, k):
        for i in range(15):
            r = node.call("POST", f"/api/v1/sandboxes/{sbx['id']}/network/rules",
                          {"action": "allow", "host": f"h{k}-{i}.example.test"})
            if r.status_code != 201:
                errors.append(r.text)

    threads = [threading.Thread(target=add, args=(n, k)) for k, n in enumerate(fleet)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    newest = fleet[0].nodes()["policy_version"]
    wait_until(lambda: all(n["applied_policy_version"] >= newest for n in fleet[0].nodes()["items"]), timeout=5,
               message="every node at the newest version")
    views = [policy_of(n, sbx["id"]) for n in fleet]
    hosts = [sorted(r["host"] for r in v["allow_rules"]) for v in views]
    assert hosts[0] == hosts[1] == hosts[2]
    assert len(hosts[0]) == 1 + 45


def test_node_id_without_postgres_is_refused(tmp_path):
    from conftest import ROOT
    import subprocess
    p = subprocess.run([str(ROOT / ".build" / "debug" / "portcullis"), "serve", "--data-dir", str(tmp_path), "--node-id", "x"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "--node-id needs --database-url" in p.stderr


def test_every_node_serves_the_same_sandbox_ca_and_a_node_with_another_key_is_refused(fleet, cluster, tmp_path):
    r = fleet[0].call("POST", "/api/v1/sandboxes?wait=fleet", {"name": "fleet-ca"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    pems = [n.call("GET", f"/api/v1/sandboxes/{sid}/ca.pem") for n in fleet]
    assert all(p.status_code == 200 for p in pems)
    assert pems[0].text == pems[1].text == pems[2].text and pems[0].text.startswith("-----BEGIN CERTIFICATE-----")

    from conftest import ROOT
    import os
    import subprocess
    other = tmp_path / "other.key"
    other.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    p = subprocess.run([str(ROOT / ".build" / "debug" / "portcullis"), "serve", "--data-dir", str(tmp_path / "data"),
                        "--database-url", cluster.url, "--node-id", "node-wrong-key", "--secrets-key-file", str(other),
                        "--api", "127.0.0.1:0", "--proxy", "127.0.0.1:0", "--socks", "127.0.0.1:0", "--dns", "127.0.0.1:0",
                        "--transparent", "127.0.0.1:0"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and str(other) in p.stderr and "not the key" in p.stderr, p.stderr[-2000:]
    p = subprocess.run([str(ROOT / ".build" / "debug" / "portcullis"), "serve", "--data-dir", str(tmp_path / "data2"),
                        "--database-url", cluster.url, "--node-id", "node-no-key",
                        "--api", "127.0.0.1:0", "--proxy", "127.0.0.1:0", "--socks", "127.0.0.1:0", "--dns", "127.0.0.1:0",
                        "--transparent", "127.0.0.1:0"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "secrets.key is missing" in p.stderr, p.stderr[-2000:]
    assert not (tmp_path / "data2" / "secrets.key").exists()
