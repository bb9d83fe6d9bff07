"""Termination on the transparent listener, inside a private network namespace (run by
test_inspection.py as `unshare --net --mount python3 inspection_scenario.py DIR`). Writes
DIR/results.json; the tests assert on it. Exits non-zero when the setup fails.

Two TLS origins (inspection_support.Origin) in the "internet" namespace: inspected.test on
198.51.100.10:443, terminated by an endpoint rule (GET on /v1/*), and opaque.test on
198.51.100.20:443, allowed without one. Both present leaves of a test CA that serve
trusts through --upstream-ca. The clients run in the client namespace, whose TCP the
gateway's namespace redirects to the transparent listener.
"""
import json
import pathlib
import subprocess
import sys
import time
import uuid

import requests

import inspection_support as tls
import transparent_net as net

ADMIN = "e2e-admin-token-0123456789abcdef"
INSPECTED, OPAQUE = "inspected.test", "opaque.test"
HERE = pathlib.Path(__file__).resolve().parent


def client(*args, timeout=60):
    p = net.sh(*args, ns=net.CLIENT_NS, check=False, timeout=timeout)
    return {"status": p.returncode, "stdout": p.stdout, "stderr": p.stderr.strip()}


def curl(*args):
    return client("curl", "-sS", "--max-time", "10", *args)


def curl_transfers(d, cafile, transfers, *extra):
    """Several transfers in one curl (`--next`): code, connects, version, reason, body of each."""
    args, outs = [], []
    for i, (method, url) in enumerate(transfers):
        if i:
            args.append("--next")
        out = d / f"curl-{uuid.uuid4().hex[:8]}.out"
        outs.append(out)
        args += ["--cacert", str(cafile), "--resolve", f"{INSPECTED}:443:{net.ALLOWED_ADDR}", "-X", method, "-o", str(out),
                 "-w", "%{http_code} %{num_connects} %{http_version} [%header{x-portcullis-reason}]\\n", *extra, url]
    r = curl(*args)
    r["transfers"] = []
    for line, out in zip(r["stdout"].splitlines(), outs):
        code, connects, version, reason = line.split(" ", 3)
        r["transfers"].append({"code": int(code), "connects": int(connects), "version": version,
                               "reason": reason.strip("[]"), "body": out.read_text() if out.exists() else ""})
    return r


def received(d, cafile):
    """Every target the inspected origin has received, read through the gateway."""
    r = curl("--cacert", str(cafile), "--resolve", f"{INSPECTED}:443:{net.ALLOWED_ADDR}", f"https://{INSPECTED}/v1/__received")
    if r["status"] != 0:
        raise RuntimeError(f"could not read the origin's targets: {r}")
    return json.loads(r["stdout"])


def main(directory):
    d = pathlib.Path(directory)
    net.up()
    origins = serve = None
    try:
        ca = tls.make_ca(d, "upstream")
        leaf = tls.issue_leaf(d, ca, [INSPECTED, OPAQUE], "leaf")
        origins = subprocess.Popen(["ip", "netns", "exec", net.INTERNET_NS, sys.executable, str(HERE / "inspection_support.py"),
                                    "serve", str(leaf[0]), str(leaf[1]), f"{net.ALLOWED_ADDR}:443", f"{net.DENIED_ADDR}:443"],
                                   stdout=subprocess.PIPE, text=True, cwd=HERE)
        if origins.stdout.readline().strip() != "ready":
            raise RuntimeError("the origins did not start")
        serve = net.Serve(d, ADMIN, names={INSPECTED: net.ALLOWED_ADDR, OPAQUE: net.DENIED_ADDR}, dns="0.0.0.0:0",
                          extra_args=("--upstream-ca", str(ca[0])))
        net.redirect(serve.transparent_port)
        headers = {"Authorization": f"Bearer {ADMIN}"}
        r = requests.post(serve.api + "/api/v1/sandboxes", headers=headers, timeout=10, json={
            "network": {"allow": [OPAQUE]}, "source_addresses": [net.CLIENT_ADDR]})
        r.raise_for_status()
        sandbox = r.json()["id"]
        r = requests.post(f"{serve.api}/api/v1/sandboxes/{sandbox}/network/rules", headers=headers, timeout=10,
                          json={"action": "allow", "host": INSPECTED, "methods": ["GET"], "paths": ["/v1/*"]})
        r.raise_for_status()
        results = {"sandbox": sandbox, "rule": r.json()["id"]}
        ca_pem = requests.get(f"{serve.api}/api/v1/sandboxes/{sandbox}/ca.pem", headers=headers, timeout=10).text
        sandbox_ca = d / "sandbox-ca.pem"
        sandbox_ca.write_text(ca_pem)

        # The sandbox asks the DNS gateway for the terminated host first, as a sandbox does:
        # the address is then attributed to the name (what the no-SNI case below relies on).
        results["dig"] = client("dig", f"@{net.GATEWAY_ADDR}", "-p", str(serve.dns_port), INSPECTED, "+short", "+tries=1",
                                "+time=3", timeout=20)
        if results["dig"]["stdout"].strip() != net.ALLOWED_ADDR:
            raise RuntimeError(f"the DNS gateway did not answer {INSPECTED}: {results['dig']}")
        for version, flag in (("http1.1", "--http1.1"), ("http2", "--http2")):
            t = uuid.uuid4().hex[:10]
            base = f"https://{INSPECTED}"
            r = curl_transfers(d, sandbox_ca, [("GET", f"{base}/v1/{t}/a"), ("DELETE", f"{base}/v1/{t}/a"),
                                               ("GET", f"{base}/v1/{t}/b")], flag)
            r["token"] = t
            results[f"curl_{version}"] = r
        results["misdirected"] = curl_transfers(d, sandbox_ca, [("GET", f"https://{INSPECTED}/v1/other")], "-H",
                                                f"Host: {OPAQUE}")

        verbose = curl("-v", "-o", "/dev/null", "--cacert", str(sandbox_ca), "--resolve",
                       f"{INSPECTED}:443:{net.ALLOWED_ADDR}", f"https://{INSPECTED}/v1/peer")
        results["issuer_inspected"] = next((line.split("issuer:", 1)[1].strip() for line in verbose["stderr"].splitlines()
                                            if "issuer:" in line), verbose["stderr"])
        results["inspected_with_upstream_ca"] = curl("--cacert", str(ca[0]), "--resolve", f"{INSPECTED}:443:{net.ALLOWED_ADDR}",
                                                     f"https://{INSPECTED}/v1/untrusted")
        results["opaque_with_upstream_ca"] = curl("--cacert", str(ca[0]), "--resolve", f"{OPAQUE}:443:{net.DENIED_ADDR}",
                                                  f"https://{OPAQUE}/whatever")
        results["opaque_with_sandbox_ca"] = curl("--cacert", str(sandbox_ca), "--resolve", f"{OPAQUE}:443:{net.DENIED_ADDR}",
                                                 f"https://{OPAQUE}/whatever")
        # Plain HTTP to the terminated host's TLS port: termination is impossible, so refused.
        results["plain_on_443"] = curl("--resolve", f"{INSPECTED}:443:{net.ALLOWED_ADDR}", f"http://{INSPECTED}:443/v1/plain")
        # No SNI, to an address the sandbox's DNS answer (asked first) attributes to the terminated host.
        results["no_sni"] = client(sys.executable, "-c", f"""
import socket, ssl
ctx = ssl.create_default_context(cafile={str(sandbox_ca)!r}); ctx.check_hostname = False
s = ctx.wrap_socket(socket.create_connection(({net.ALLOWED_ADDR!r}, 443), timeout=10), server_hostname=None)
s.sendall(b"GET /v1/nosni HTTP/1.1\\r\\nHost: {INSPECTED}\\r\\n\\r\\n")
data = s.recv(100)
raise SystemExit(0 if data else 3)
""")

        before = received(d, sandbox_ca)
        results["received_before_corpus"] = len(before)
        corpus = client(sys.executable, str(HERE / "inspection_support.py"), "corpus", INSPECTED, net.ALLOWED_ADDR, "443",
                        str(sandbox_ca), timeout=300)
        if corpus["status"] != 0:
            raise RuntimeError(f"the corpus client failed: {corpus}")
        results["corpus"] = json.loads(corpus["stdout"])
        results["received"] = received(d, sandbox_ca)

        time.sleep(1.5)  # the audit writer flushes in batches
        results["audit"] = requests.get(serve.api + f"/api/v1/audit?sandbox={sandbox}&limit=500", headers=headers,
                                        timeout=10).json()["items"]
        (d / "results.json").write_text(json.dumps(results, indent=2))
    finally:
        if serve:
            serve.stop()
        if origins:
            origins.kill()
            origins.wait()
        net.down()


if __name__ == "__main__":
    main(sys.argv[1])
