"""The control plane says no when it means no (issue 15), black-box against `serve`: owned
source addresses, a bounded API listener (head and idle timeouts, a connection cap that
leaves the proxy alone, live streams per key), dot-segments and cursors refused, `nosniff`
on answers, lockdown that never widens, pending ids that name one entry of one sandbox, and
a tenant rule removed where it lives.

Network rule: everything is 127.0.0.1; the upstream is the tests' own server by `.test` name.
"""
import socket
import subprocess
import time

import requests

from conftest import Gateway, cli, via


def raw(gateway, data, read_timeout=5.0):
    """Sends `data` on a fresh API connection; returns what comes back until EOF or timeout."""
    host, port = gateway.api.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)), timeout=5)
    s.settimeout(read_timeout)
    if data:
        s.sendall(data)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    finally:
        s.close()
    return out


def interface_addresses():
    p = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True)
    out = []
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) > 3 and parts[2] in ("inet", "inet6"):
            out.append(parts[3].split("/")[0])
    return out


# ------------------------------------------------------------------ source addresses

def test_source_addresses_a_tenant_may_not_claim(gateway):
    sbx = gateway.sandbox({})["id"]
    for address in ["127.0.0.1", "127.0.0.9", "0.0.0.0", "::", "::1", "224.0.0.1", "ff02::1", "255.255.255.255"]:
        r = gateway.call("PATCH", f"/api/v1/sandboxes/{sbx}", {"source_addresses": [address]})
        assert r.status_code == 400, (address, r.text)
        assert r.json()["error"].startswith("source_addresses[0]: "), r.text
    # The gateway's own interface addresses (beyond loopback, where this namespace has any).
    for address in interface_addresses():
        r = gateway.call("PATCH", f"/api/v1/sandboxes/{sbx}", {"source_addresses": [address]})
        assert r.status_code == 400, (address, r.text)
    assert gateway.call("GET", f"/api/v1/sandboxes/{sbx}").json()["source_addresses"] == []
    # What `portcullis run` registers (the sandbox end of its veth) stays claimable.
    r = gateway.call("PATCH", f"/api/v1/sandboxes/{sbx}", {"source_addresses": ["100.120.0.2"]})
    assert r.status_code == 200 and r.json()["source_addresses"] == ["100.120.0.2"], r.text


def test_another_tenants_address_is_a_conflict_that_does_not_name_its_sandbox(gateway):
    key = gateway.call("POST", "/api/v1/tenants", {"name": "neighbour"}).json()["api_key"]
    theirs = gateway.call("POST", "/api/v1/sandboxes", {"source_addresses": ["100.64.7.2"]}, key=key)
    assert theirs.status_code == 201, theirs.text
    mine = gateway.sandbox({})["id"]
    r = gateway.call("PATCH", f"/api/v1/sandboxes/{mine}", {"source_addresses": ["100.64.7.2"]})
    assert r.status_code == 409
    assert theirs.json()["id"] not in r.text and "another tenant" in r.json()["error"]


def test_claimable_lets_an_operator_allow_loopback_and_it_identifies_the_sandbox(tmp_path, upstream):
    g = Gateway(tmp_path, extra_args=("--claimable", "127.0.0.0/8"))
    try:
        sbx = g.sandbox({"mode": "allowlist", "network": {"allow": ["allowed.test"]}, "source_addresses": ["127.0.0.1"]})
        assert sbx["source_addresses"] == ["127.0.0.1"]
        # No credential: the source address says which sandbox this is.
        r = requests.get(f"http://allowed.test:{upstream.port}/", proxies={"http": f"http://127.0.0.1:{g.proxy_port}"}, timeout=10)
        assert r.status_code == 200, r.text
        r = g.call("PATCH", f"/api/v1/sandboxes/{sbx['id']}", {"source_addresses": ["0.0.0.0"]})
        assert r.status_code == 400, "never an unspecified address, whatever --claimable says"
    finally:
        g.stop()


# ------------------------------------------------------------------ the API listener

def test_api_head_and_idle_timeouts(tmp_path):
    g = Gateway(tmp_path, extra_args=("--api-head-timeout", "1", "--api-idle-timeout", "2"))
    try:
        started = time.time()
        out = raw(g, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", read_timeout=6)
        took = time.time() - started
        assert out.startswith(b"HTTP/1.1 408"), out
        assert b"nosniff" in out
        assert 0.8 < took < 3, took
        started = time.time()
        assert raw(g, b"", read_timeout=8) == b"", "a new connection that says nothing is closed without an answer"
        took = time.time() - started
        assert 0.8 < took < 3, f"within the head timeout (1 s), not the idle one (2 s): {took}"
        # A whole request is answered, then the idle connection is closed after the idle timeout.
        started = time.time()
        out = raw(g, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", read_timeout=8)
        took = time.time() - started
        assert out.startswith(b"HTTP/1.1 200") and out.endswith(b"ok\n"), out
        assert 1.5 < took < 5, f"kept for the idle timeout (2 s) after its answer: {took}"
    finally:
        g.stop()


def test_api_connection_cap_holds_extra_connections_and_leaves_the_proxy_alone(tmp_path, upstream):
    g = Gateway(tmp_path, extra_args=("--api-max-connections", "4", "--api-idle-timeout", "30", "--api-head-timeout", "30"))
    held = []
    try:
        sbx = g.sandbox({})
        host, port = g.api.removeprefix("http://").split(":")
        for _ in range(4):
            held.append(socket.create_connection((host, int(port)), timeout=5))
        time.sleep(0.3)
        waiting = socket.create_connection((host, int(port)), timeout=5)  # queued by the kernel, not accepted
        waiting.settimeout(1.0)
        waiting.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            early = waiting.recv(100)
        except socket.timeout:
            early = b""
        assert early == b"", "a fifth connection is not served while four are open"
        # The data plane has caps of its own: the proxy still works.
        assert via(g, sbx, f"http://allowed.test:{upstream.port}/").status_code == 200
        held.pop().close()
        waiting.settimeout(5)
        assert waiting.recv(100).startswith(b"HTTP/1.1 200"), "served once a place is free"
        waiting.close()
    finally:
        for s in held:
            s.close()
        g.stop()


def test_live_streams_per_key_are_capped_with_retry_after(tmp_path):
    g = Gateway(tmp_path, extra_args=("--api-max-streams-per-key", "2"))
    streams = []
    try:
        headers = {"Authorization": f"Bearer {g.admin}"}
        for _ in range(2):
            r = requests.get(g.api + "/api/v1/audit/stream", headers=headers, stream=True, timeout=10)
            assert r.status_code == 200
            streams.append(r)
        r = requests.get(g.api + "/api/v1/audit/stream", headers=headers, stream=True, timeout=10)
        assert r.status_code == 429, r.text
        assert r.headers.get("Retry-After") == "15"
        assert "live audit streams" in r.json()["error"]
        other = g.call("POST", "/api/v1/tenants", {"name": "streamer"}).json()["api_key"]
        r2 = requests.get(g.api + "/api/v1/audit/stream", headers={"Authorization": f"Bearer {other}"}, stream=True, timeout=10)
        assert r2.status_code == 200, "another key has places of its own"
        streams.append(r2)
    finally:
        for s in streams:
            s.close()
        g.stop()


# ------------------------------------------------------------------ paths, headers, cursors

def test_dot_segments_are_refused_and_answers_say_nosniff(gateway):
    for path in [b"/api/v1/sandboxes/../network/observe", b"/api/v1/sandboxes/%2e%2e/network/observe", b"/api/v1/sandboxes/%2E./network/observe"]:
        out = raw(gateway, b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + gateway.admin.encode()
                  + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 400"), out
        assert b"never . or .." in out
    assert gateway.call("GET", "/api/v1/network/policy").json()["default_mode"] == "audit"
    for r in [gateway.call("GET", "/api/v1/sandboxes"), gateway.call("GET", "/api/v1/sandboxes/sbx_nope"),
              requests.get(gateway.api + "/healthz", timeout=5)]:
        assert r.headers.get("X-Content-Type-Options") == "nosniff", r.headers


def test_cursors_the_server_did_not_issue_are_400(gateway):
    for _ in range(3):
        gateway.sandbox({})
    first = gateway.call("GET", "/api/v1/sandboxes?limit=1").json()
    cursor = first["next_cursor"]
    assert gateway.call("GET", f"/api/v1/sandboxes?limit=1&cursor={cursor}").status_code == 200
    for bad in ["%%%", "abc", cursor[:-1], cursor + "x", "sbx_" + "z" * 20]:
        r = gateway.call("GET", f"/api/v1/sandboxes?limit=1&cursor={bad}")
        assert r.status_code == 400, (bad, r.text)
        assert "cursor is not one this list handed out" in r.json()["error"]
    r = gateway.call("GET", f"/api/v1/audit?cursor={cursor}")
    assert r.status_code == 400, "a sandboxes cursor is not an audit cursor"


# ------------------------------------------------------------------ lockdown, pending, removal

def wait_suggestions(gateway, sid, total):
    deadline = time.time() + 5
    while time.time() < deadline:
        items = gateway.call("GET", f"/api/v1/sandboxes/{sid}/network/suggestions?since=7d").json()["items"]
        if sum(i["count"] for i in items) >= total:
            return items
        time.sleep(0.05)
    raise AssertionError("suggestions never counted the traffic")


def test_lockdown_never_widens_an_endpoint_rule(gateway, upstream):
    sbx = gateway.sandbox({})
    sid = sbx["id"]
    rule = gateway.call("POST", f"/api/v1/sandboxes/{sid}/network/rules",
                        {"action": "allow", "host": "allowed.test", "methods": ["GET"], "paths": ["/v1/*"]}).json()
    assert via(gateway, sbx, f"http://allowed.test:{upstream.port}/v1/models").status_code == 200
    assert via(gateway, sbx, f"http://other.test:{upstream.port}/").status_code == 200
    items = wait_suggestions(gateway, sid, 2)
    by_host = {i["host"]: i for i in items}
    assert by_host["allowed.test"]["allowed_by"] == rule["id"] and by_host["other.test"]["allowed_by"] is None
    status, out, err = cli(gateway, "lockdown", sid, "--from-suggestions", "7d")
    assert status == 0, err
    policy = gateway.call("GET", f"/api/v1/sandboxes/{sid}/network/policy").json()
    assert [r["host"] for r in policy["allow_rules"] if r["host"] == "allowed.test"] == ["allowed.test"]
    assert via(gateway, sbx, f"http://allowed.test:{upstream.port}/v1/models").status_code == 200
    r = requests.post(f"http://allowed.test:{upstream.port}/admin", proxies={"http": gateway.proxy_url(sbx)}, timeout=10)
    assert r.status_code == 403, "POST /admin stays outside the endpoint rule"


def test_pending_ids_name_one_entry_and_the_cli_names_the_sandbox(gateway, upstream):
    a = gateway.sandbox({"mode": "allowlist"})
    b = gateway.sandbox({"mode": "allowlist"})
    for s in (a, b):
        assert via(gateway, s, f"http://other.test:{upstream.port}/").status_code == 403

    def pending(s):
        deadline = time.time() + 5
        while time.time() < deadline:
            items = gateway.call("GET", f"/api/v1/sandboxes/{s['id']}/network/pending").json()["items"]
            if items:
                return items
            time.sleep(0.05)
        raise AssertionError("no pending entry")

    pa, pb = pending(a)[0], pending(b)[0]
    assert pa["id"] != pb["id"], "one host pending in two sandboxes: two entries, two ids"
    status, out, err = cli(gateway, "pending", "block", pb["id"])
    assert status == 0, err
    assert b["id"] in out and a["id"] not in out, out
    assert gateway.call("GET", f"/api/v1/sandboxes/{b['id']}/network/pending").json()["items"] == []
    assert [e["id"] for e in gateway.call("GET", f"/api/v1/sandboxes/{a['id']}/network/pending").json()["items"]] == [pa["id"]]
    # Once lockdown allows the host, the entry is gone.
    assert gateway.call("POST", f"/api/v1/sandboxes/{a['id']}/network/lockdown", {"hosts": ["other.test"]}).status_code == 200
    assert gateway.call("GET", f"/api/v1/sandboxes/{a['id']}/network/pending").json()["items"] == []


def test_a_tenant_rule_is_not_removable_under_a_sandbox_and_says_where_it_is(gateway):
    sid = gateway.sandbox({})["id"]
    rule = gateway.call("POST", "/api/v1/network/rules", {"action": "deny", "host": "evil.test"}).json()
    _, out, _ = cli(gateway, "policy", "ls", sid)
    line = next(l for l in out.splitlines() if rule["id"] in l)
    assert f"no (tenant-wide: policy rm network --id {rule['id']} --tenant)" in line, line
    status, _, err = cli(gateway, "policy", "rm", "network", "--id", rule["id"], "--sandbox", sid, check=False)
    assert status != 0 and f"portcullis policy rm network --id {rule['id']} --tenant" in err, err
    status, out, err = cli(gateway, "policy", "rm", "network", "--id", rule["id"], "--tenant")
    assert status == 0 and "the tenant" in out, err
    assert gateway.call("GET", "/api/v1/network/policy").json()["deny_rules"] == []
