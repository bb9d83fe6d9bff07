"""Termination inside `portcullis run` (root): the command's TCP goes to the transparent
listener, and it trusts what `run` hands it (the system bundle plus the sandbox's CA, in
SSL_CERT_FILE / CURL_CA_BUNDLE / REQUESTS_CA_BUNDLE …) — with no --cacert of its own,
curl and Python requests reach a terminated host, its endpoint rule decides each
request, and the origin's own certificate is not what the command is shown.

Uses test_run.py's internet (a namespace with TLS servers on documentation addresses,
names only through the gateway's hosts file); serve trusts that internet's certificate
through --upstream-ca. Network rule as in test_run.py.
"""
import time

import pytest

from test_run import ALLOWED, Internet, InternetGateway, run, sections, skip_reason

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")

PROBE = r'''
set +e
echo "== get"; curl -sS --max-time 10 -w " %{http_code}" https://allowed.test/; echo " rc=$?"
echo "== post"; curl -sS --max-time 10 -o /dev/null -w "%{http_code} %header{x-portcullis-reason}" -X POST https://allowed.test/; echo " rc=$?"
echo "== path"; curl -sS --max-time 10 -o /dev/null -w "%{http_code} %header{x-portcullis-reason}" https://allowed.test/admin; echo " rc=$?"
echo "== http2"; curl -sS --max-time 10 --http2 -o /dev/null -w "%{http_code} %{http_version}" https://allowed.test/; echo " rc=$?"
echo "== requests"; python3 -c 'import requests; r = requests.get("https://allowed.test/", timeout=10); print(r.status_code, r.text.strip())'; echo "rc=$?"
echo "== origin_ca"; curl -sS --max-time 10 --cacert "$1" https://allowed.test/; echo "rc=$?"
echo "== issuer"; curl -sS --max-time 10 -v -o /dev/null https://allowed.test/ 2>&1 | grep -i "issuer:"; echo "rc=$?"
echo "== end"
'''


@pytest.fixture(scope="module")
def internet(tmp_path_factory):
    net = Internet(tmp_path_factory.mktemp("internet"))
    yield net
    net.close()


@pytest.fixture(scope="module")
def terminated_run(tmp_path_factory, internet):
    tmp = tmp_path_factory.mktemp("run-inspection")
    g = InternetGateway(tmp, extra=("--upstream-ca", str(internet.cert)))
    sbx = g.sandbox({"name": "inspect"})
    r = g.call("POST", f"/api/v1/sandboxes/{sbx['id']}/network/rules",
               {"action": "allow", "host": "allowed.test", "methods": ["GET"], "paths": ["/"]})
    assert r.status_code == 201, r.text
    rule = r.json()["id"]
    r = g.call("POST", f"/api/v1/sandboxes/{sbx['id']}/network/lockdown", {})  # allowlist: the rule decides
    assert r.status_code == 200, r.text
    script = tmp / "probe.sh"
    script.write_text(PROBE)
    status, out, err = run(g, *g.listeners(), "--sandbox", sbx["id"], "--", "sh", str(script), str(internet.cert), timeout=180)
    yield g, sbx, rule, sections(out), status, err
    g.stop()


def test_run_command_reaches_a_terminated_host_with_the_bundle_run_gives_it(terminated_run):
    g, sbx, rule, out, status, err = terminated_run
    assert status == 0, err
    assert out["get"] == f"hello from {ALLOWED}\n 200 rc=0\n", out["get"]
    assert out["post"].strip() == "403 endpoint-not-allowed rc=0", out["post"]
    assert out["path"].strip() == "403 endpoint-not-allowed rc=0", out["path"]
    assert out["http2"].strip() == "200 2 rc=0", out["http2"]
    assert out["requests"].strip() == f"200 hello from {ALLOWED}\nrc=0", out["requests"]
    ca = g.call("GET", f"/api/v1/sandboxes/{sbx['id']}/ca.pem").text
    assert sbx["id"] in out["issuer"], f"the leaf is the sandbox CA's: {out['issuer']} (CA {ca[:40]}…)"


def test_run_command_is_not_shown_the_origins_certificate(terminated_run):
    _, _, _, out, _, _ = terminated_run
    # Trusting only the origin's own certificate fails: what the command sees is the leaf
    # of its sandbox's CA, which it trusts through run's bundle and nothing else gives.
    assert "rc=60" in out["origin_ca"], out["origin_ca"]


def test_run_requests_are_logged_terminated_one_by_one(terminated_run):
    g, sbx, rule, _, _, _ = terminated_run
    def request_entries():
        return [e for e in g.audit(sandbox=sbx["id"], limit=200) if e["method"] is not None and e["host"] == "allowed.test"]
    deadline = time.time() + 8
    while len(request_entries()) < 6 and time.time() < deadline:
        time.sleep(0.1)
    requests_ = request_entries()
    assert sorted((e["method"], e["path"], e["status"]) for e in requests_) == sorted([
        ("GET", "/", 200), ("POST", "/", 403), ("GET", "/admin", 403), ("GET", "/", 200), ("GET", "/", 200),
        ("GET", "/", 200)]), requests_
    for e in requests_:
        assert e["via"] == "transparent" and e["terminated"] is True and e["sni"] == "allowed.test", e
        assert e["address"] == ALLOWED and e["port"] == 443 and e["rule_id"] == rule, e
    refused = [e for e in requests_ if e["status"] == 403]
    assert all(e["rejected_by"] == "endpoint-not-allowed" and e["action"] == "reject" for e in refused), refused
