"""`portcullis serve` end to end: one command, the API, the proxy, the audit log, the
pending queue, graceful shutdown and restart safety."""
import signal
import subprocess
import threading
import time

import requests

from conftest import Gateway, curl


def test_serve_with_no_flags_but_ports_creates_the_default_tenant_and_prints_the_admin_key_once(tmp_path):
    g = Gateway(tmp_path, admin=None)
    try:
        text = "\n".join(g.banner)
        assert "Admin API key (shown once" in text
        key = g.banner[g.banner.index("Admin API key (shown once, store it now):") + 1].strip()
        assert key.startswith("pcl_")
        g.admin = key
        assert g.call("GET", "/api/v1/network/policy").json()["default_mode"] == "audit"
        assert "HTTPS_PROXY=http://<sandbox id>:<password>@" in text
    finally:
        g.stop()
    g.start()
    try:
        assert not any("Admin API key" in line for line in g.banner), "the key is printed on first start only"
        assert g.call("GET", "/api/v1/sandboxes").status_code == 200, "the key still works after a restart"
    finally:
        g.stop()


def test_readyz_healthz_and_metrics(gateway):
    assert requests.get(gateway.api + "/readyz").status_code == 200
    assert requests.get(gateway.api + "/healthz").status_code == 200
    m = requests.get(gateway.api + "/metrics")
    assert m.status_code == 200
    assert "text/plain" in m.headers["Content-Type"]
    for name in ["portcullis_audit_queue_depth", "portcullis_active_tunnels", "portcullis_open_connections"]:
        assert name in m.text


def test_watch_then_enforce_through_the_proxy(gateway, upstream):
    sbx = gateway.sandbox({"name": "agent"})
    proxy = gateway.proxy_url(sbx)
    for host in ["allowed.test", "other.test"]:
        status, out, err = curl("--proxy", proxy, f"http://{host}:{upstream.port}/")
        assert status == 0, err
        assert out == f"hello from {host}:{upstream.port}\n"
    items = gateway.wait_audit(lambda e: e["host"] == "other.test", sandbox=sbx["id"])
    other = next(e for e in items if e["host"] == "other.test")
    assert other["action"] == "allow" and other["would_reject"] is True and other["via"] == "http"
    assert other["rejected_by"] == "default-deny"

    locked = gateway.call("POST", f"/api/v1/sandboxes/{sbx['id']}/network/lockdown", {"hosts": ["allowed.test"]})
    assert locked.status_code == 200 and locked.json()["mode"] == "allowlist"
    status, out, _ = curl("--proxy", proxy, "-o", "/dev/null", "-w", "%{http_code}", f"http://allowed.test:{upstream.port}/")
    assert out == "200"
    r = requests.get(f"http://other.test:{upstream.port}/", proxies={"http": proxy}, timeout=10)
    assert r.status_code == 403
    assert r.headers["X-Portcullis-Reason"] == "default-deny"
    assert "other.test" in r.text and "pending" in r.text

    deadline = time.time() + 5
    pending = []
    while time.time() < deadline and not pending:
        pending = gateway.call("GET", f"/api/v1/sandboxes/{sbx['id']}/network/pending").json()["items"]
        time.sleep(0.05)
    assert [p["host"] for p in pending] == ["other.test"]
    allowed = gateway.call("POST", f"/api/v1/sandboxes/{sbx['id']}/network/pending/{pending[0]['id']}/allow")
    assert allowed.status_code == 200
    r = requests.get(f"http://other.test:{upstream.port}/", proxies={"http": proxy}, timeout=10)
    assert r.status_code == 200, "the change applies at once, without a restart"
    rejects = gateway.audit(action="reject", sandbox=sbx["id"])
    assert rejects and all(e["rejected_by"] for e in rejects)


def test_sigterm_shuts_down_gracefully_and_flushes_the_audit_log(tmp_path, upstream):
    g = Gateway(tmp_path)
    sbx = g.sandbox()
    proxy = g.proxy_url(sbx)
    for i in range(20):
        curl("--proxy", proxy, f"http://allowed.test:{upstream.port}/{i}")
    g.proc.send_signal(signal.SIGTERM)
    assert g.proc.wait(timeout=30) == 0
    g.log.close()
    g.start()
    try:
        items = g.audit(sandbox=sbx["id"], limit=100)
        assert len([e for e in items if e["host"] == "allowed.test"]) == 20
    finally:
        g.stop()


def test_kill_9_in_a_burst_of_rule_changes_loses_no_acknowledged_change(tmp_path, upstream):
    g = Gateway(tmp_path)
    sbx = g.sandbox()
    acknowledged = []
    stop = threading.Event()

    def burst():
        i = 0
        while not stop.is_set() and i < 500:
            try:
                r = g.call("POST", f"/api/v1/sandboxes/{sbx['id']}/network/rules", {"action": "allow", "host": f"h{i}.example.com"})
                if r.status_code == 201:
                    acknowledged.append(r.json()["id"])
            except requests.RequestException:
                return
            i += 1

    traffic_proxy = g.proxy_url(sbx)
    t = threading.Thread(target=burst)
    t.start()
    for i in range(10):
        curl("--proxy", traffic_proxy, f"http://allowed.test:{upstream.port}/early-{i}", timeout=2)
    # Events of requests finished this long before the kill have been flushed.
    flushed = g.wait_audit(lambda e: e["path"] == "/early-9", sandbox=sbx["id"], limit=100)
    flushed_ids = {e["id"] for e in flushed if (e["path"] or "").startswith("/early-")}
    assert len(flushed_ids) == 10
    for i in range(10):
        curl("--proxy", traffic_proxy, f"http://allowed.test:{upstream.port}/late-{i}", timeout=2)
    g.proc.kill()
    g.proc.wait()
    stop.set()
    t.join()
    g.log.close()
    assert acknowledged, "the burst got some changes acknowledged before the kill"
    g.start()
    try:
        policy = g.call("GET", f"/api/v1/sandboxes/{sbx['id']}/network/policy").json()
        stored = {r["id"] for r in policy["allow_rules"]}
        missing = [a for a in acknowledged if a not in stored]
        assert not missing, f"{len(missing)} acknowledged rules lost"
        after = {e["id"] for e in g.audit(sandbox=sbx["id"], limit=1000)}
        assert flushed_ids <= after, "every flushed audit event survives kill -9"
    finally:
        g.stop()


def test_sigterm_with_a_live_audit_stream_open_still_exits_promptly(tmp_path):
    g = Gateway(tmp_path)
    stream = requests.get(g.api + "/api/v1/audit/stream", headers={"Authorization": f"Bearer {g.admin}"}, stream=True, timeout=10)
    assert stream.status_code == 200
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    first = next(stream.iter_lines())
    assert first.startswith(b":"), "the stream opens with a comment at once"
    started = time.time()
    g.proc.send_signal(signal.SIGTERM)
    assert g.proc.wait(timeout=15) == 0
    assert time.time() - started < 10
    g.log.close()
