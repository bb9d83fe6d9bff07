#!/usr/bin/env python3
"""Fleet propagation benchmark (issue 19): three `serve` nodes on one PostgreSQL with
10,000 sandboxes; a few hundred policy changes through one node, each timed from the
moment it is acknowledged (and from the moment it was sent) until every node reports it
applied; then the same with NOTIFY off (the safety poll alone); then HTTP proxy
decisions per second per node while changes stream in, against the same with none.

    Benchmarks/FleetBench/run.py [--changes 300] [--sandboxes 10000] [--binary .build/debug/portcullis]

Everything runs on loopback: a PostgreSQL cluster of its own (scripts/postgres-test-server
on a free port), the nodes, and an upstream HTTP server. Bounded in count and time.
"""
import argparse
import statistics
import sys
import threading
import time
import pathlib

import requests

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fleet"))
from conftest import Cluster, Node, Upstream  # noqa: E402  (tests/fleet's harness)


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def seed_sandboxes(cluster, count):
    cluster.sql(f"""
        INSERT INTO sandboxes (id, tenant_id, name, own_mode, profiles, proxy_token, created_at, updated_at)
        SELECT 'sbx_bench' || g, 'tnt_default', NULL, 'allowlist', '[]', 'tok' || g, 0, 0 FROM generate_series(1, {count}) g;
        INSERT INTO rules (owner_kind, owner_tenant, owner_key, id, position, action, host, port, protocol, methods, paths,
          warn_only, except_hosts, note, created_at)
        SELECT 'sandbox', '', 'sbx_bench' || g, 'rul_bench' || g, 0, 'allow', 's' || g || '.example.test', NULL, 'any', NULL,
          NULL, false, '[]', NULL, 0 FROM generate_series(1, {count}) g;
    """)


def all_applied(node, version):
    items = node.call("GET", "/api/v1/nodes").json()["items"]
    return all(n["applied_policy_version"] >= version for n in items if n["state"] != "down")


def propagation(nodes, target, changes):
    a = nodes[0]
    from_ack, from_send = [], []
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {a.admin}"
    rule_ids = []
    for i in range(changes):
        sent = time.perf_counter()
        if i % 2 == 0:
            r = session.post(a.api + f"/api/v1/sandboxes/{target}/network/rules", json={"action": "allow", "host": f"c{i}.example.test"})
            assert r.status_code == 201, r.text
            rule_ids.append(r.json()["id"])
        else:
            r = session.delete(a.api + f"/api/v1/sandboxes/{target}/network/rules/{rule_ids.pop()}")
            assert r.status_code == 204, r.text
        acked = time.perf_counter()
        version = session.get(a.api + "/api/v1/nodes").json()["policy_version"]
        deadline = acked + 30
        while not all_applied(a, version):
            if time.perf_counter() > deadline:
                raise SystemExit(f"change {i} not applied everywhere within 30 s")
            time.sleep(0.002)
        done = time.perf_counter()
        from_ack.append((done - acked) * 1000)
        from_send.append((done - sent) * 1000)
    return from_ack, from_send


def decisions_per_second(nodes, sandbox, upstream, seconds, changes_while):
    counts = [0] * len(nodes)
    stop = threading.Event()

    def load(k, node):
        s = requests.Session()
        proxy = node.proxy_url(sandbox)
        s.proxies = {"http": proxy}
        while not stop.is_set():
            if s.get(f"http://allowed.test:{upstream.port}/", timeout=5).status_code == 200:
                counts[k] += 1

    def churn():
        a = nodes[0]
        i = 0
        while not stop.is_set():
            r = a.call("POST", f"/api/v1/sandboxes/{sandbox['id']}/network/rules", {"action": "allow", "host": f"churn{i}.example.test"})
            assert r.status_code == 201
            i += 1
            time.sleep(0.02)

    threads = [threading.Thread(target=load, args=(k, n)) for k, n in enumerate(nodes) for _ in range(2)]
    if changes_while:
        threads.append(threading.Thread(target=churn))
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return [c / seconds for c in counts]


def run(args, listen):
    cluster = Cluster()
    tmp = pathlib.Path(cluster.dir) / "nodes"
    tmp.mkdir()
    extra = () if listen else ("--no-listen",)
    nodes = []
    try:
        (tmp / "n0").mkdir()
        first = Node(tmp / "n0", cluster, "node-0", extra)
        first.stop()
        seed_sandboxes(cluster, args.sandboxes)
        for i in range(3):
            (tmp / f"m{i}").mkdir()
            nodes.append(Node(tmp / f"m{i}", cluster, f"node-{i}", ("--sync-interval", args.poll_interval if not listen else "5s", *extra)))
        target = nodes[0].sandbox({"network": {"allow": ["allowed.test"]}})
        count = args.changes if listen else max(20, args.changes // 10)
        from_ack, from_send = propagation(nodes, target["id"], count)
        result = {"changes": count, "from_ack": from_ack, "from_send": from_send}
        if listen:
            upstream = Upstream()
            try:
                result["quiet"] = decisions_per_second(nodes, target, upstream, args.load_seconds, False)
                result["churn"] = decisions_per_second(nodes, target, upstream, args.load_seconds, True)
            finally:
                upstream.close()
        return result
    finally:
        for n in nodes:
            n.stop()
        cluster.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--changes", type=int, default=300)
    p.add_argument("--sandboxes", type=int, default=10_000)
    p.add_argument("--poll-interval", default="1s", help="--sync-interval for the poll-only run")
    p.add_argument("--load-seconds", type=float, default=10)
    args = p.parse_args()
    rows = []
    for listen in (True, False):
        r = run(args, listen)
        label = "LISTEN/NOTIFY" if listen else f"poll only ({args.poll_interval})"
        for name, values in (("ack -> applied on all 3", r["from_ack"]), ("sent -> applied on all 3", r["from_send"])):
            rows.append((label, name, r["changes"], statistics.median(values), pct(values, 99), max(values)))
        if listen:
            quiet, churn = r["quiet"], r["churn"]
    print(f"{args.sandboxes} sandboxes, 3 nodes, one PostgreSQL (ms)")
    print(f"{'mode':<22} {'measured':<26} {'changes':>7} {'p50':>8} {'p99':>8} {'max':>8}")
    for label, name, n, p50, p99, mx in rows:
        print(f"{label:<22} {name:<26} {n:>7} {p50:>8.1f} {p99:>8.1f} {mx:>8.1f}")
    print("")
    print("HTTP proxy decisions/s per node (2 keep-alive clients per node):")
    print(f"{'node':<8} {'no changes':>12} {'changes streaming (~50/s)':>27}")
    for i, (q, c) in enumerate(zip(quiet, churn)):
        print(f"node-{i:<3} {q:>12.0f} {c:>27.0f}")


if __name__ == "__main__":
    main()
