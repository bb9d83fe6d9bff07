"""The transparent listener end to end, inside a private network namespace (run by
test_transparent.py as `unshare --net --mount python3 transparent_scenario.py DIR`).
Writes DIR/results.json; the test asserts on it. Exits non-zero when the setup fails."""
import json
import pathlib
import socket
import sys
import time

import requests

import transparent_net as net

ADMIN = "e2e-admin-token-0123456789abcdef"


def curl(*args):
    p = net.sh("curl", "-sS", "--max-time", "8", *args, ns=net.CLIENT_NS, check=False, timeout=30)
    return {"status": p.returncode, "stdout": p.stdout, "stderr": p.stderr.strip()}


def main(directory):
    d = pathlib.Path(directory)
    net.up()
    servers = serve = None
    try:
        ca = net.make_certificates(d)
        servers = net.start_servers(d)
        serve = net.Serve(d, ADMIN)
        net.redirect(serve.transparent_port)
        headers = {"Authorization": f"Bearer {ADMIN}"}
        r = requests.post(serve.api + "/api/v1/sandboxes", headers=headers, timeout=10, json={
            "mode": "allowlist", "network": {"allow": ["allowed.test"], "deny": ["denied.test"]},
            "source_addresses": [net.CLIENT_ADDR]})
        r.raise_for_status()
        sandbox = r.json()["id"]
        results = {"sandbox": sandbox}
        results["allowed"] = curl("--cacert", str(ca), "--resolve", f"allowed.test:443:{net.ALLOWED_ADDR}",
                                  "https://allowed.test/")
        results["denied"] = curl("--cacert", str(ca), "--resolve", f"denied.test:443:{net.DENIED_ADDR}",
                                 "https://denied.test/")
        results["mismatch"] = curl("--cacert", str(ca), "--resolve", f"allowed.test:443:{net.DENIED_ADDR}",
                                   "https://allowed.test/")
        results["plain_ip"] = curl(f"http://{net.ALLOWED_ADDR}/")
        # Straight to the listener, not redirected: no original destination.
        with socket.create_connection(("127.0.0.1", serve.transparent_port), timeout=5) as s:
            s.settimeout(5)
            try:
                results["direct_read"] = s.recv(100).decode()
            except OSError as error:
                results["direct_read"] = f"error: {error}"
        time.sleep(1.5)  # the audit writer flushes in batches
        results["audit"] = requests.get(serve.api + "/api/v1/audit?limit=50", headers=headers, timeout=10).json()["items"]
        results["pending"] = requests.get(serve.api + f"/api/v1/sandboxes/{sandbox}/network/pending", headers=headers,
                                          timeout=10).json()
        (d / "results.json").write_text(json.dumps(results, indent=2))
    finally:
        if serve:
            serve.stop()
        if servers:
            servers.kill()
            servers.wait()
        net.down()


if __name__ == "__main__":
    main(sys.argv[1])
