"""The pending queue is bounded per sandbox, "oldest dropped first, and counted"
(POLICY-MODEL.md): the count is `portcullis_pending_evicted_total` in /metrics
(docs/policy.md, "Pending queue bound"). 1,005 refused requests to distinct `.test` names
through the proxy: nothing is dialled (a refusal happens before any lookup)."""
import re
import time

import requests

CAPACITY = 1000
EXTRA = 5


def evicted(gateway):
    text = requests.get(gateway.api + "/metrics", timeout=10).text
    m = re.search(r"^portcullis_pending_evicted_total(?:\{\})? (\d+)", text, re.M)
    return int(m.group(1)) if m else 0


def test_a_full_pending_queue_counts_what_it_drops(gateway):
    sbx = gateway.sandbox({"mode": "allowlist"})
    before = evicted(gateway)
    proxies = {"http": gateway.proxy_url(sbx)}
    with requests.Session() as s:
        for i in range(CAPACITY + EXTRA):
            r = s.get(f"http://h{i}.evict.test/", proxies=proxies, timeout=10)
            assert r.status_code == 403, r.text
    deadline = time.time() + 20
    while time.time() < deadline and evicted(gateway) - before < EXTRA:
        time.sleep(0.1)
    assert evicted(gateway) - before == EXTRA
    items, cursor = [], None
    while True:
        page = gateway.call("GET", f"/api/v1/sandboxes/{sbx['id']}/network/pending?limit=1000" + (f"&cursor={cursor}" if cursor else "")).json()
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    hosts = {e["host"] for e in items}
    assert len(items) == CAPACITY
    assert "h0.evict.test" not in hosts and f"h{CAPACITY + EXTRA - 1}.evict.test" in hosts, "the oldest went first"
