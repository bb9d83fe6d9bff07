"""Inside HTTPS (INSPECTION.md, up to "Credentials") against a real `portcullis serve`, with
real clients: curl (HTTP/1.1 and --http2), Python requests, a gRPC client (grpcio) and raw
TLS sockets, through CONNECT and SOCKS5 on loopback. TLS origins the tests start present
leaves of a test CA that serve trusts through `--upstream-ca`. The transparent listener's
share is at the end (a private network, root only, as test_transparent.py).
"""
import json
import os
import pathlib
import shutil
import ssl
import subprocess
import time
import uuid
from concurrent import futures

import pytest
import requests

import inspection_support as tls
import transparent_net
from conftest import Gateway, cli

HERE = pathlib.Path(__file__).resolve().parent
HOST = "api.openai.test"     # terminated: GET and POST on /v1/* (an endpoint rule)
OPAQUE = "pypi.test"         # allowed without endpoint rules: an opaque tunnel
ROGUE = "other.test"         # inspect: true, its origin's certificate is from a CA serve does not trust
MISNAMED = "files.pypi.test"  # inspect: true, its origin's certificate is for another name
GRPC = "allowed.test"        # terminated: POST on /echo.Echo/Say and /echo.Echo/Fail, an HTTP/2 origin


class World:
    """One serve and the origins, shared by the module's tests (each test makes its own sandbox)."""

    def __init__(self, d):
        self.dir = d
        self.upstream_ca = tls.make_ca(d, "upstream")
        rogue_ca = tls.make_ca(d, "rogue")
        leaf = tls.issue_leaf(d, self.upstream_ca, [HOST, OPAQUE, GRPC], "leaf")
        self.origin = tls.Origin(*leaf)
        self.rogue = tls.Origin(*tls.issue_leaf(d, rogue_ca, [ROGUE], "rogue-leaf"))
        self.misnamed = tls.Origin(*tls.issue_leaf(d, self.upstream_ca, ["somewhere-else.test"], "misnamed-leaf"))
        self.grpc_server, self.grpc_port = start_grpc(leaf)
        self.gateway = Gateway(d, extra_args=("--upstream-ca", str(self.upstream_ca[0])))

    def sandbox(self):
        """A sandbox in allowlist mode with the module's rules, and its CA (PEM)."""
        g = self.gateway
        sbx = g.sandbox({"network": {"allow": [OPAQUE]}})
        rules = [
            {"action": "allow", "host": HOST, "methods": ["GET", "POST"], "paths": ["/v1/*"]},
            {"action": "allow", "host": ROGUE, "inspect": True},
            {"action": "allow", "host": MISNAMED, "inspect": True},
            {"action": "allow", "host": GRPC, "methods": ["POST"], "paths": ["/echo.Echo/Say", "/echo.Echo/Fail"]},
        ]
        for rule in rules:
            r = g.call("POST", f"/api/v1/sandboxes/{sbx['id']}/network/rules", rule)
            assert r.status_code == 201, r.text
        sbx["rules"] = {rule["host"]: rule for rule in g.call("GET", f"/api/v1/sandboxes/{sbx['id']}/network/policy")
                        .json()["allow_rules"]}
        r = g.call("GET", f"/api/v1/sandboxes/{sbx['id']}/ca.pem")
        assert r.status_code == 200, r.text
        sbx["ca"] = r.text
        sbx["ca_file"] = self.dir / f"{sbx['id']}-ca.pem"
        sbx["ca_file"].write_text(r.text)
        return sbx

    def opener(self, ingress, sbx, host, port):
        g = self.gateway
        if ingress == "connect":
            return lambda: tls.open_connect(g.proxy_port, sbx, host, port)
        return lambda: tls.open_socks5(g.socks_port, sbx, host, port)

    def proxy_arg(self, ingress, sbx):
        p = sbx["proxy"]
        if ingress == "connect":
            return f"http://{p['username']}:{p['password']}@127.0.0.1:{self.gateway.proxy_port}"
        return f"socks5h://{p['username']}:{p['password']}@127.0.0.1:{self.gateway.socks_port}"

    def entries(self, sbx, predicate, count=1, timeout=8):
        """The sandbox's audit entries matching `predicate`, oldest first, once `count` are there."""
        deadline = time.time() + timeout
        while True:
            items = [e for e in self.gateway.audit(sandbox=sbx["id"], limit=500) if predicate(e)]
            if len(items) >= count or time.time() > deadline:
                return list(reversed(items))
            time.sleep(0.1)

    def close(self):
        self.gateway.stop()
        self.grpc_server.stop(0)
        for o in (self.origin, self.rogue, self.misnamed):
            o.close()


def start_grpc(leaf):
    """A gRPC server (HTTP/2 only) with generic handlers: Say echoes and sets a trailer,
    Fail ends with INVALID_ARGUMENT, Admin would answer if it were ever reached."""
    grpc = pytest.importorskip("grpc", reason="grpcio is absent (scripts/test installs it with pip)")

    def say(request, context):
        context.set_trailing_metadata((("x-echo-trailer", "kept"),))
        return b"echo:" + request

    def fail(request, context):
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the test server refuses this")

    def admin(request, context):
        return b"admin reached"

    handler = grpc.method_handlers_generic_handler("echo.Echo", {
        "Say": grpc.unary_unary_rpc_method_handler(say),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
        "Admin": grpc.unary_unary_rpc_method_handler(admin),
    })
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    cert, key = (pathlib.Path(p).read_bytes() for p in leaf)
    port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(key, cert)]))
    server.start()
    return server, port


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not installed (scripts/test installs it): the test CAs are made with it")
    w = World(tmp_path_factory.mktemp("inspection"))
    yield w
    w.close()


def token():
    return uuid.uuid4().hex[:10]


def curl_many(world, ingress, sbx, transfers, http2=False, extra=()):
    """One curl process, several transfers (`--next`), each (method, url): the connection is
    reused between them when curl can. Returns one dict per transfer: code, connects,
    version, reason (X-Portcullis-Reason), body."""
    if shutil.which("curl") is None:
        pytest.fail("curl is not installed (scripts/test installs it)")
    args = ["curl", "-sS", "--max-time", "20"]
    out_files = []
    for i, (method, url) in enumerate(transfers):
        if i:
            args.append("--next")
        body = world.dir / f"curl-{token()}.out"
        out_files.append(body)
        args += ["-x", world.proxy_arg(ingress, sbx), "--cacert", str(sbx["ca_file"]), "-X", method, "-o", str(body),
                 "-w", "%{http_code} %{num_connects} %{http_version} [%header{x-portcullis-reason}]\\n",
                 "--http2" if http2 else "--http1.1", *extra, url]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    lines = p.stdout.splitlines()
    assert len(lines) == len(transfers), (p.returncode, p.stdout, p.stderr)
    results = []
    for line, body in zip(lines, out_files):
        code, connects, version, reason = line.split(" ", 3)
        results.append({"code": int(code), "connects": int(connects), "version": version, "reason": reason.strip("[]"),
                        "body": body.read_text() if body.exists() else ""})
    return results


def request_entries(world, sbx, host, count, **fields):
    """Per-request entries (they carry a method) for `host`."""
    return world.entries(sbx, lambda e: e["host"] == host and e["method"] is not None
                         and all(e.get(k) == v for k, v in fields.items()), count)


def assert_terminated(entry):
    """INSPECTION.md: every request seen inside terminated TLS says `terminated: true`."""
    assert entry["terminated"] is True, entry


def assert_refused_403(code, reason, body, host, rule_id):
    assert code == 403
    assert reason == "endpoint-not-allowed"
    assert body.startswith(f"Portcullis blocked {host}:"), body
    assert f"[rule {rule_id}]" in body, body


# ------------------------------------------------------------------ real clients


@pytest.mark.parametrize("ingress", ["connect", "socks5"])
@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "http2"])
def test_curl_allowed_and_refused_methods_and_paths_on_one_connection(world, ingress, http2):
    sbx = world.sandbox()
    t = token()
    base = f"https://{HOST}:{world.origin.port}"
    results = curl_many(world, ingress, sbx, [
        ("GET", f"{base}/v1/{t}/models"),
        ("DELETE", f"{base}/v1/{t}/models"),
        ("GET", f"{base}/admin/{t}"),
        ("POST", f"{base}/v1/{t}/chat"),
    ], http2=http2)
    assert [r["code"] for r in results] == [200, 403, 403, 200], results
    assert [r["connects"] for r in results] == [1, 0, 0, 0], "one connection for all four requests, after two 403s"
    assert {r["version"] for r in results} == {"2" if http2 else "1.1"}
    rule = sbx["rules"][HOST]["id"]
    for r in results[1:3]:
        assert_refused_403(r["code"], r["reason"], r["body"], HOST, rule)
    seen = json.loads(results[0]["body"])
    assert seen["target"] == f"/v1/{t}/models" and seen["method"] == "GET"
    assert seen["alpn"] == "http/1.1", "the HTTP/1.1-only origin is spoken to in HTTP/1.1 (translated from h2)"
    assert [(r["method"], r["target"]) for r in world.origin.received if t in r["target"]] == \
        [("GET", f"/v1/{t}/models"), ("POST", f"/v1/{t}/chat")], "refused requests never reach the origin"

    entries = request_entries(world, sbx, HOST, 4)
    assert [(e["method"], e["path"], e["status"], e["action"]) for e in entries] == [
        ("GET", f"/v1/{t}/models", 200, "allow"), ("DELETE", f"/v1/{t}/models", 403, "reject"),
        ("GET", f"/admin/{t}", 403, "reject"), ("POST", f"/v1/{t}/chat", 200, "allow")]
    for e in entries:
        assert e["via"] == ingress and e["port"] == world.origin.port and e["address"] == "127.0.0.1"
        assert e["sni"] == HOST, e
        assert e["rule_id"] == rule, e
        assert e["duration_ms"] >= 0
    assert entries[0]["bytes_down"] > 0 and entries[3]["bytes_down"] > 0
    assert [e["rejected_by"] for e in entries] == [None, "endpoint-not-allowed", "endpoint-not-allowed", None]
    # One tunnel line for the connection: the client opened one.
    tunnels = world.entries(sbx, lambda e: e["host"] == HOST and e["method"] is None)
    assert len(tunnels) == 1 and tunnels[0]["via"] == ingress and tunnels[0]["bytes_up"] > 0, tunnels
    for e in entries:
        assert_terminated(e)
    # The CLI's audit table shows the requests inside TLS, marked as policy log marks them.
    _, out, _ = cli(world.gateway, "audit", "--sandbox", sbx["id"], "--host", HOST)
    for method, path in [("GET", f"/v1/{t}/models"), ("DELETE", f"/v1/{t}/models"), ("POST", f"/v1/{t}/chat")]:
        assert f"{HOST} {method} {path} [TLS]" in out, out


def test_python_requests_session_keeps_its_connection_after_a_403(world):
    sbx = world.sandbox()
    t = token()
    proxy = world.gateway.proxy_url(sbx)
    base = f"https://{HOST}:{world.origin.port}"
    with requests.Session() as s:
        s.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override verify
        s.proxies = {"https": proxy}
        s.verify = str(sbx["ca_file"])
        r1 = s.get(f"{base}/v1/{t}/models", timeout=10)
        r2 = s.put(f"{base}/v1/{t}/models", data=b"x" * 1000, timeout=10)
        r3 = s.post(f"{base}/v1/{t}/chat/completions", json={"prompt": "hi"}, timeout=10)
        r4 = s.post(f"{base}/v2/{t}/chat/completions", json={"prompt": "hi"}, timeout=10)
        r5 = s.get(f"{base}/v1/{t}/again", timeout=10)
    assert [r.status_code for r in (r1, r2, r3, r4, r5)] == [200, 403, 200, 403, 200]
    for r in (r2, r4):
        assert_refused_403(r.status_code, r.headers["X-Portcullis-Reason"], r.text, HOST, sbx["rules"][HOST]["id"])
    assert r3.json()["body_length"] == len(json.dumps({"prompt": "hi"}))
    entries = request_entries(world, sbx, HOST, 5)
    assert [(e["method"], e["status"]) for e in entries] == [("GET", 200), ("PUT", 403), ("POST", 200), ("POST", 403),
                                                            ("GET", 200)]
    assert entries[2]["bytes_up"] >= r3.json()["body_length"]
    assert len({e["client"] for e in entries}) == 1, f"requests kept one connection for five requests: {entries}"


def test_a_grpc_call_keeps_its_trailers_and_a_refused_method_is_permission_denied(world):
    grpc = pytest.importorskip("grpc", reason="grpcio is absent (scripts/test installs it with pip)")
    sbx = world.sandbox()
    p = sbx["proxy"]
    proxy = f"http://{p['username']}:{p['password']}@127.0.0.1:{world.gateway.proxy_port}"
    credentials = grpc.ssl_channel_credentials(root_certificates=sbx["ca"].encode())
    with grpc.secure_channel(f"{GRPC}:{world.grpc_port}", credentials, options=[("grpc.http_proxy", proxy)]) as channel:
        reply, call = channel.unary_unary("/echo.Echo/Say").with_call(b"hello", timeout=15)
        assert reply == b"echo:hello"
        assert ("x-echo-trailer", "kept") in call.trailing_metadata(), call.trailing_metadata()
        with pytest.raises(grpc.RpcError) as failed:
            channel.unary_unary("/echo.Echo/Fail")(b"x", timeout=15)
        assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT, "grpc-status came through in the trailers"
        assert failed.value.details() == "the test server refuses this"
        with pytest.raises(grpc.RpcError) as refused:
            channel.unary_unary("/echo.Echo/Admin")(b"x", timeout=15)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED, refused.value  # HTTP 403
        reply, _ = channel.unary_unary("/echo.Echo/Say").with_call(b"again", timeout=15)
        assert reply == b"echo:again"
    entries = request_entries(world, sbx, GRPC, 4)
    assert [(e["method"], e["path"], e["status"], e["rejected_by"]) for e in entries] == [
        ("POST", "/echo.Echo/Say", 200, None), ("POST", "/echo.Echo/Fail", 200, None),
        ("POST", "/echo.Echo/Admin", 403, "endpoint-not-allowed"), ("POST", "/echo.Echo/Say", 200, None)]
    tunnels = world.entries(sbx, lambda e: e["host"] == GRPC and e["method"] is None)
    assert len(tunnels) == 1, f"one HTTP/2 connection carried every call: {tunnels}"


@pytest.mark.parametrize("ingress", ["connect", "socks5"])
def test_h2_streams_on_one_connection_are_decided_each_on_its_own(world, ingress):
    pytest.importorskip("h2", reason="the h2 package is absent (scripts/test installs it with pip)")
    sbx = world.sandbox()
    t = token()
    stream = tls.tls(world.opener(ingress, sbx, HOST, world.origin.port)(), HOST, cadata=sbx["ca"], alpn=("h2",))
    assert stream.selected_alpn_protocol() == "h2"
    with stream:
        answers = tls.h2_exchange(stream, f"{HOST}:{world.origin.port}", [
            ("GET", f"/v1/{t}/a", [], None),
            ("DELETE", f"/v1/{t}/a", [], None),
            ("GET", f"/v1/{t}/b", [(":authority", OPAQUE)], None),
            ("GET", f"/v1/{t}/%2Fetc", [], None),
            ("POST", f"/v1/{t}/c", [("content-length", "5")], b"hello"),
        ])
    assert [a["status"] for a in answers] == [200, 403, 421, 400, 200], answers
    assert all(a["reset"] is None and a["ended"] for a in answers), "refusals answer the stream, never reset it"
    assert answers[1]["headers"]["x-portcullis-reason"] == "endpoint-not-allowed"
    assert answers[2]["headers"]["x-portcullis-reason"] == "authority-mismatch"
    assert json.loads(answers[4]["body"])["body_length"] == 5
    assert sorted(r["target"] for r in world.origin.received if t in r["target"]) == [f"/v1/{t}/a", f"/v1/{t}/c"]
    entries = request_entries(world, sbx, HOST, 5)
    # The refused path's entry keeps the target as sent (escaped), never a canonical form of it.
    assert sorted((e["method"], e["path"], e["status"]) for e in entries) == sorted([
        ("GET", f"/v1/{t}/a", 200), ("DELETE", f"/v1/{t}/a", 403), ("GET", f"/v1/{t}/b", 421),
        ("GET", f"/v1/{t}/%2Fetc", 400), ("POST", f"/v1/{t}/c", 200)])
    for e in entries:
        assert e["via"] == ingress and e["sni"] == HOST, e
        assert_terminated(e)


# ------------------------------------------------------------------ certificates


def peer_certificate_text(stream):
    der = stream.getpeercert(binary_form=True)
    p = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-text"], input=der, capture_output=True)
    assert p.returncode == 0, p.stderr
    return p.stdout.decode()


@pytest.mark.parametrize("ingress", ["connect", "socks5"])
def test_the_leaf_comes_from_the_sandbox_ca_and_another_sandboxs_ca_refuses_it(world, ingress):
    sbx, other = world.sandbox(), world.sandbox()
    opener = world.opener(ingress, sbx, HOST, world.origin.port)
    with tls.tls(opener(), HOST, cadata=sbx["ca"]) as stream:
        cert = stream.getpeercert()
        text = peer_certificate_text(stream)
        assert tls.request(stream, tls.get("/v1/leaf", HOST))[0] == 200
    issuer = dict(x[0] for x in cert["issuer"])
    assert sbx["id"] in issuer["commonName"], cert
    assert cert["subjectAltName"] == (("DNS", HOST),), "a leaf for exactly the SNI"
    hours = (ssl.cert_time_to_seconds(cert["notAfter"]) - ssl.cert_time_to_seconds(cert["notBefore"])) / 3600
    assert 24 <= hours <= 24.2, hours
    assert "id-ecPublicKey" in text and ("prime256v1" in text or "P-256" in text), text
    assert "CA:TRUE" not in text and "TLS Web Server Authentication" in text, text

    handshakes = world.origin.handshakes
    with pytest.raises(ssl.SSLCertVerificationError):
        tls.tls(opener(), HOST, cadata=other["ca"])
    with pytest.raises(ssl.SSLCertVerificationError):
        tls.tls(opener(), HOST, cafile=world.upstream_ca[0])  # the origin's own CA: not what the sandbox is shown
    # A client that rejects our certificate: refused and logged, never passed through opaque.
    refusals = world.entries(sbx, lambda e: e["rejected_by"] == "tls-handshake", count=2)
    assert len(refusals) == 2, refusals
    for e in refusals:
        assert e["action"] == "reject" and e["host"] == HOST and e["via"] == ingress, e
    time.sleep(0.3)
    assert world.origin.handshakes == handshakes, "no TLS reached the origin for a connection the client refused"


@pytest.mark.parametrize("ingress", ["connect", "socks5"])
def test_a_host_that_is_not_terminated_shows_its_own_certificate(world, ingress):
    sbx = world.sandbox()
    opener = world.opener(ingress, sbx, OPAQUE, world.origin.port)
    with tls.tls(opener(), OPAQUE, cafile=world.upstream_ca[0]) as stream:
        issuer = dict(x[0] for x in stream.getpeercert()["issuer"])
        status, _, body = tls.request(stream, tls.get("/anything/at/all", OPAQUE))
    assert issuer["commonName"] == "inspection test CA upstream"
    assert status == 200 and json.loads(body)["target"] == "/anything/at/all"
    with pytest.raises(ssl.SSLCertVerificationError):
        tls.tls(opener(), OPAQUE, cadata=sbx["ca"])
    # Two tunnels (the second client refused the real certificate, end to end: the gateway
    # saw an allowed opaque tunnel), neither terminated.
    lines = world.entries(sbx, lambda e: e["host"] == OPAQUE and e["action"] == "allow", count=2)
    assert len(lines) == 2, lines
    for line in lines:
        assert line["method"] is None and line["sni"] == OPAQUE and line["via"] == ingress, line
        assert line["terminated"] is False, line


# ------------------------------------------------------------------ 421, 502, no SNI


@pytest.mark.parametrize("ingress", ["connect", "socks5"])
def test_a_host_other_than_the_sni_is_421_and_the_connection_goes_on(world, ingress):
    sbx = world.sandbox()
    t = token()
    with tls.tls(world.opener(ingress, sbx, HOST, world.origin.port)(), HOST, cadata=sbx["ca"]) as stream:
        status, headers, body = tls.request(stream, tls.get(f"/v1/{t}", OPAQUE))
        assert status == 421 and headers["x-portcullis-reason"] == ["authority-mismatch"], (status, headers, body)
        assert b"open a new connection" in body
        assert tls.request(stream, tls.get(f"/v1/{t}/next", f"{HOST}:{world.origin.port}"))[0] == 200
    results = curl_many(world, ingress, sbx, [("GET", f"https://{HOST}:{world.origin.port}/v1/{t}/h2")], http2=True,
                        extra=("-H", f"Host: {OPAQUE}"))
    assert results[0]["code"] == 421 and results[0]["reason"] == "authority-mismatch", results
    assert [r["target"] for r in world.origin.received if t in r["target"]] == [f"/v1/{t}/next"]
    entries = request_entries(world, sbx, HOST, 3)
    assert sorted((e["status"], e["rejected_by"]) for e in entries) == [(200, None), (421, "authority-mismatch"),
                                                                       (421, "authority-mismatch")]


@pytest.mark.parametrize("host,why", [(ROGUE, "a CA serve does not trust"), (MISNAMED, "another name")])
def test_an_upstream_that_does_not_verify_is_502_with_an_error_entry(world, host, why):
    sbx = world.sandbox()
    origin = world.rogue if host == ROGUE else world.misnamed
    results = curl_many(world, "connect", sbx, [("GET", f"https://{host}:{origin.port}/v1/x")])
    assert results[0]["code"] == 502, results
    body = results[0]["body"]
    assert body.startswith("Portcullis: upstream certificate: ") and body.count("\n") == 1, body
    assert ".cc:" not in body and "/Sources/" not in body, f"no build paths in what the sandbox is shown: {body}"
    assert origin.received == [], "nothing was sent to an upstream that did not verify"
    [e] = world.entries(sbx, lambda e: e["host"] == host and e["status"] == 502)
    assert e["action"] == "error" and e["reason"].startswith("upstream certificate: "), e
    assert e["method"] == "GET" and e["path"] == "/v1/x" and e["via"] == "connect"


@pytest.mark.parametrize("ingress", ["connect", "socks5"])
def test_a_terminated_host_without_sni_is_refused_and_logged(world, ingress):
    sbx = world.sandbox()
    handshakes = world.origin.handshakes
    raw = world.opener(ingress, sbx, HOST, world.origin.port)()
    context = tls.client_context(cadata=sbx["ca"], check_hostname=False)
    with pytest.raises((ssl.SSLError, OSError)):
        with context.wrap_socket(raw, server_hostname=None) as stream:
            stream.sendall(tls.get("/v1/x", HOST))
            if not stream.recv(100):
                raise ConnectionError("closed")
    [e] = world.entries(sbx, lambda e: e["host"] == HOST and e["action"] == "reject")
    assert e["rejected_by"] == "sni-mismatch" and "no server name" in e["reason"] and e["via"] == ingress, e
    assert world.origin.handshakes == handshakes


# ------------------------------------------------------------------ explain


def test_explain_says_whether_a_host_would_be_terminated_and_why(world):
    sbx = world.sandbox()
    rule = sbx["rules"][HOST]["id"]
    cases = [
        # (target, extra args, exit status, the TLS line, terminated in --json)
        (f"{HOST}:443", (), 0, f"TLS terminated: rule {rule} allows only some methods or paths", True),
        (f"{ROGUE}:443", (), 0, f"TLS terminated: rule {sbx['rules'][ROGUE]['id']} says inspect: true", True),
        (f"{OPAQUE}:443", (), 0, "TLS not terminated: no rule or credential needs to see inside", False),
        # Refused inside the terminated connection: the line is there.
        (f"{HOST}:443", ("--method", "DELETE", "--path", "/v1/x"), 1, f"TLS terminated: rule {rule}", True),
        # Refused before TLS: nothing is opened, no TLS line.
        ("denied.test:443", (), 1, None, False),
    ]
    for target, extra, status, line, terminated in cases:
        code, out, err = cli(world.gateway, "explain", sbx["id"], target, *extra, check=False)
        assert code == status, (target, code, out, err)
        tls_lines = [x for x in out.splitlines() if x.startswith("TLS ")]
        if line is None:
            assert tls_lines == [], out
        else:
            assert len(tls_lines) == 1 and tls_lines[0].startswith(line), out
        code, out, _ = cli(world.gateway, "explain", sbx["id"], target, *extra, "--json", check=False)
        answer = json.loads(out)
        assert answer["terminated"] is terminated and answer["termination_reason"], answer


# ------------------------------------------------------------------ hostile paths


def check_corpus(results, received, host, entries=None):
    """The corpus's answers against HOSTILE_PATHS: forwarded exactly canonical, forbidden on
    the canonical path, refused with 400 (and closed); `received`: every target the origin got."""
    expected_received = []
    for (target, (kind, canonical)), got in zip(tls.HOSTILE_PATHS, results):
        label = f"{target!r}: {got}"
        if kind == "forward":
            assert got["status"] == 200, label
            assert json.loads(got["body"])["target"] == canonical, label
            assert not got["closed"], label
            expected_received += [canonical, "/v1/after"]
        elif kind == "forbid":
            assert got["status"] == 403 and got["reason"] == "endpoint-not-allowed", label
            assert not got["closed"], label
            expected_received.append("/v1/after")
        else:
            assert got["status"] == 400, label
            assert got["closed"], f"a refused path closes the connection: {label}"
    assert received == expected_received, "the origin received exactly the canonical paths, nothing refused"


@pytest.mark.parametrize("ingress", ["connect", "socks5"])
def test_hostile_paths_are_refused_or_canonicalised_and_the_origin_gets_exactly_the_canonical_path(world, ingress):
    sbx = world.sandbox()
    before = len(world.origin.received)
    results = tls.run_corpus(world.opener(ingress, sbx, HOST, world.origin.port), HOST, world.origin.port, cadata=sbx["ca"])
    check_corpus(results, world.origin.targets()[before:], HOST)
    forwards = sum(1 for _, (kind, _) in tls.HOSTILE_PATHS if kind == "forward")
    forbids = sum(1 for _, (kind, _) in tls.HOSTILE_PATHS if kind == "forbid")
    refusals = len(tls.HOSTILE_PATHS) - forwards - forbids
    entries = world.entries(sbx, lambda e: e["method"] is not None or e["status"] == 400,
                            count=2 * forwards + 2 * forbids + refusals)
    by_status = {}
    for e in entries:
        by_status.setdefault(e["status"], []).append(e)
    expected_paths = sorted([c.split("?")[0] for _, (k, c) in tls.HOSTILE_PATHS if k == "forward"] + ["/v1/after"] * (forwards + forbids))
    assert sorted(e["path"] for e in by_status[200]) == expected_paths, "logged: the canonical path, never the query"
    assert sorted(e["path"] for e in by_status[403]) == sorted(c for _, (k, c) in tls.HOSTILE_PATHS if k == "forbid")
    assert len(by_status[400]) == refusals, by_status.get(400)
    for e in by_status[400]:
        assert e["action"] == "error" and e["rejected_by"] == "bad-request" and e["via"] == ingress, e
        assert e["host"] == HOST, f"a refused request's entry names the terminated host: {e}"
    for e in by_status[200] + by_status[403]:
        assert e["via"] == ingress and e["host"] == HOST


# ------------------------------------------------------------------ the transparent listener
# inspection_scenario.py runs the clients in a network namespace whose TCP is redirected to
# `serve --transparent`, the origins on documentation addresses in another; these tests
# read what it recorded.

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: creates network namespaces, veth pairs and nftables rules")
needs_nft = pytest.mark.skipif(shutil.which("nft") is None, reason="nft is absent (apt package nftables; scripts/test installs it)")


@pytest.fixture(scope="module")
def transparent(tmp_path_factory):
    binary = HERE.parents[1] / ".build" / "debug" / "portcullis"
    if not binary.exists():
        pytest.fail(f"{binary} is missing: build first (swift build)")
    return transparent_net.run_scenario("inspection_scenario.py", tmp_path_factory.mktemp("inspection-transparent"), 600)


def transparent_entries(results, **fields):
    """The scenario's transparent entries matching `fields`, oldest first."""
    return [e for e in reversed(results["audit"]) if e.get("via") == "transparent"
            and all(e.get(k) == v for k, v in fields.items())]


@needs_root
@needs_nft
@pytest.mark.parametrize("version", ["http1.1", "http2"])
def test_transparent_allowed_and_refused_requests_on_one_connection(transparent, version):
    r = transparent[f"curl_{version}"]
    assert [x["code"] for x in r["transfers"]] == [200, 403, 200], r
    assert [x["connects"] for x in r["transfers"]] == [1, 0, 0], r
    assert {x["version"] for x in r["transfers"]} == {"2" if version == "http2" else "1.1"}, r
    assert r["transfers"][1]["reason"] == "endpoint-not-allowed"
    assert r["transfers"][1]["body"].startswith("Portcullis blocked inspected.test:443: "), r
    t = r["token"]
    entries = [e for e in transparent_entries(transparent, host="inspected.test") if e["path"] and t in e["path"]]
    assert [(e["method"], e["status"]) for e in entries] == [("GET", 200), ("DELETE", 403), ("GET", 200)], entries
    for e in entries:
        assert e["address"] == "198.51.100.10" and e["port"] == 443 and e["sni"] == "inspected.test", e
        assert e["rule_id"] == transparent["rule"], e
        assert e["duration_ms"] >= 0
        assert_terminated(e)
    assert entries[0]["bytes_down"] > 0


@needs_root
@needs_nft
def test_transparent_leaf_is_the_sandboxs_and_an_untouched_host_shows_its_own(transparent):
    assert transparent["issuer_inspected"].endswith(transparent["sandbox"]), transparent["issuer_inspected"]
    assert transparent["opaque_with_upstream_ca"]["status"] == 0, transparent["opaque_with_upstream_ca"]
    assert json.loads(transparent["opaque_with_upstream_ca"]["stdout"])["target"] == "/whatever"
    assert transparent["opaque_with_sandbox_ca"]["status"] == 60, transparent["opaque_with_sandbox_ca"]
    assert transparent["inspected_with_upstream_ca"]["status"] == 60, "the client rejects our certificate"
    refusals = transparent_entries(transparent, rejected_by="tls-handshake")
    assert len(refusals) == 1 and refusals[0]["host"] == "inspected.test" and refusals[0]["action"] == "reject", refusals
    opaque = transparent_entries(transparent, host="opaque.test", action="allow")
    assert len(opaque) == 2, opaque  # one tunnel per curl: its TLS went end to end
    assert all(e["method"] is None and e["terminated"] is False for e in opaque), opaque


@needs_root
@needs_nft
def test_transparent_421_and_plain_http_on_443_and_no_sni_are_refused_and_logged(transparent):
    m = transparent["misdirected"]["transfers"][0]
    assert m["code"] == 421 and m["reason"] == "authority-mismatch", m
    plain = transparent["plain_on_443"]
    assert plain["status"] != 0 and plain["stdout"] == "", plain
    entries = transparent_entries(transparent, host="inspected.test", rejected_by="tunnel-first-bytes")
    assert len(entries) == 1 and entries[0]["action"] == "reject", transparent_entries(transparent, host="inspected.test")
    # The client looked the name up through the DNS gateway first, so the address is
    # attributed to inspected.test: a ClientHello without SNI is then `sni-mismatch` (no server name).
    assert transparent["no_sni"]["status"] != 0, transparent["no_sni"]
    refused = [e for e in transparent_entries(transparent, address="198.51.100.10") if e["rejected_by"] == "sni-mismatch" and "no server name" in e["reason"]]
    assert len(refused) == 1 and refused[0]["action"] == "reject", transparent_entries(transparent, address="198.51.100.10")
    assert not any(t.startswith("/v1/nosni") or t.startswith("/v1/plain") for t in transparent["received"])


@needs_root
@needs_nft
def test_transparent_hostile_paths_are_refused_or_canonicalised(transparent):
    # `received` is what the origin had got at the end; `received_before_corpus` how many
    # targets it held before (each list ends with the /v1/__received request that read it).
    received = transparent["received"][transparent["received_before_corpus"]:-1]
    check_corpus(transparent["corpus"], received, "inspected.test")
    refused = [e for e in transparent_entries(transparent, status=400)]
    assert len(refused) == sum(1 for _, (k, _) in tls.HOSTILE_PATHS if k == "refuse"), refused
    for e in refused:
        assert e["host"] == "inspected.test" and e["rejected_by"] == "bad-request", e
