"""Tunnel setup rate: the transparent path against the CONNECT path, side by side, in one
run. Root only. Re-executes itself in `unshare --net --mount`; builds the private network
of tests/e2e/transparent_net.py (client netns → redirect → gateway → "internet" netns
with a TCP echo server on 198.51.100.10:7); both clients run in the client netns and
cross the same veth. Bounded: COUNT tunnels per path and round, 120 s per round at most.

    sudo python3 Benchmarks/Transparent/bench.py [--binary .build/release/portcullis] [--count 2000] [--workers 1,8]
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import requests

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests" / "e2e"))
import transparent_net as net  # noqa: E402

ADMIN = "bench-admin-token-0123456789abcdef"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=str(HERE.parents[1] / ".build" / "release" / "portcullis"))
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--workers", default="1,8")
    args = ap.parse_args()
    if not os.environ.get("PC_BENCH_IN_NETNS"):
        os.environ["PC_BENCH_IN_NETNS"] = "1"
        os.execvp("unshare", ["unshare", "--net", "--mount", sys.executable, __file__, *sys.argv[1:]])
    count = min(args.count, 20000)
    d = pathlib.Path(tempfile.mkdtemp(prefix="pc-bench-"))
    net.up()
    servers = serve = None
    try:
        net.make_certificates(d)
        servers = net.start_servers(d)
        serve = net.Serve(d, ADMIN, binary=args.binary, proxy="0.0.0.0:0")
        net.redirect(serve.transparent_port, exempt_port=serve.proxy_port)
        r = requests.post(serve.api + "/api/v1/sandboxes", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10,
                          json={"mode": "allowlist", "network": {"allow": [net.ALLOWED_ADDR]},
                                "source_addresses": [net.CLIENT_ADDR]})
        r.raise_for_status()
        rows = []
        for workers in [int(w) for w in args.workers.split(",")]:
            for mode in ("connect", "transparent"):
                p = net.sh("python3", str(HERE / "client.py"), mode, net.ALLOWED_ADDR, "7", net.GATEWAY_ADDR,
                           str(serve.proxy_port), str(count), str(workers), ns=net.CLIENT_NS, timeout=150)
                row = json.loads(p.stdout)
                row["workers"] = workers
                rows.append(row)
        print(f"binary: {args.binary}; {count} tunnels per row (connect, 5 bytes echoed, close)")
        print(f"{'path':<12} {'workers':>7} {'ok':>6} {'errors':>6} {'setups/s':>9} {'p50 ms':>7} {'p99 ms':>7}")
        for r in rows:
            print(f"{r['mode']:<12} {r['workers']:>7} {r['ok']:>6} {r['errors']:>6} {r['per_second']:>9} "
                  f"{r['p50_ms']:>7} {r['p99_ms']:>7}")
    finally:
        if serve:
            serve.stop()
        if servers:
            servers.kill()
            servers.wait()
        net.down()


if __name__ == "__main__":
    main()
