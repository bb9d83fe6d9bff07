"""Credentials end to end (INSPECTION.md, "Credentials"), against a real `portcullis serve`
and TLS upstreams that this test starts with its own CA (trusted through `--upstream-ca`).

A canary secret is searched for everywhere it must never be — everything the sandbox
receives (echoed headers, body and query; plain, chunked, SSE; base64, base64url and
percent-encoded), the audit log, every API answer and export, the CLI's output, serve's log,
the database files byte for byte — and found where it must be: at the bound upstream, at
the declared placement only. Then the binding: other host, port, scheme, IP literal,
spelling, IDN, CONNECT to one host with Host of another, h2 :authority, path and method,
and git over HTTPS with a Basic placeholder.
"""
import base64
import json
import os
import re
import subprocess
import time

import pytest
import requests

from conftest import BINARY, Gateway, cli, curl
from tls_upstream import EchoUpstream, GitUpstream, TestCA

CANARY = "CANARY-sk-live-7d1f0b9e3a5c2e8f4b6d0a1c3e5f7b9d"
ROTATED = "ROTATED-sk-live-0f2e4d6c8b0a1f3e5d7c9b1a3f5e7d9c"
NAMES = ["api.openai.test", "other.test", "xn--bcher-kva.test", "bucher.test", "git.test"]
PLACEHOLDER = re.compile(r"^pcx_[a-z2-7]{32}$")


def forms(secret):
    """The secret and the encodings a leak could take."""
    raw = secret.encode()
    return [raw, base64.b64encode(raw), base64.urlsafe_b64encode(raw), raw.hex().encode(), base64.b64encode(raw)[:-4]]


def assert_absent(data, where, secrets=(CANARY,)):
    if isinstance(data, str):
        data = data.encode()
    for secret in secrets:
        for form in forms(secret):
            assert form not in data, f"{where} holds the secret ({form[:12]!r}…)"


class World:
    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.ca = TestCA(tmp_path / "upstream-ca", NAMES)
        self.echo = EchoUpstream(self.ca)
        self.other = EchoUpstream(self.ca)
        self.g = Gateway(tmp_path, extra_args=("--upstream-ca", str(self.ca.ca)), extra_names=NAMES)

    def close(self):
        self.g.stop()
        self.echo.close()
        self.other.close()

    def credential(self, name="openai", value=CANARY, host="api.openai.test", port=None, placement=None, require=None, **binding):
        body = {"name": name, "value": value, "binding": {"host": host, "port": port or self.echo.port, **binding},
                "placement": placement or {"kind": "header", "name": "Authorization", "format": "Bearer {secret}"}}
        if require is not None:
            body["require"] = require
        r = self.g.call("POST", "/api/v1/credentials", body)
        assert r.status_code == 201, r.text
        return r.json()

    def sandbox(self, *credentials, rules=()):
        s = self.g.sandbox()
        for rule in rules:
            r = self.g.call("POST", f"/api/v1/sandboxes/{s['id']}/network/rules", rule)
            assert r.status_code == 201, r.text
        placeholders = {}
        for name in credentials:
            r = self.g.call("POST", f"/api/v1/sandboxes/{s['id']}/network/credentials/{name}")
            assert r.status_code == 200, r.text
            placeholders[name] = r.json()["placeholder"]
            assert PLACEHOLDER.match(placeholders[name])
        ca = self.tmp / f"{s['id']}-ca.pem"
        ca.write_text(self.g.call("GET", f"/api/v1/sandboxes/{s['id']}/ca.pem").text)
        s["ca_file"] = str(ca)
        s["placeholders"] = placeholders
        return s

    def request(self, sandbox, method, url, verify=None, **kwargs):
        """One request from the sandbox through the HTTP proxy (CONNECT for https)."""
        proxy = self.g.proxy_url(sandbox)
        return requests.request(method, url, proxies={"http": proxy, "https": proxy}, timeout=15,
                                verify=sandbox["ca_file"] if verify is None else verify, **kwargs)

    def curl(self, sandbox, *args):
        """curl through the HTTP proxy; `out` starts at the upstream's answer (the proxy's
        `200 Connection Established` before it dropped)."""
        status, out, err = curl("--proxy", self.g.proxy_url(sandbox), "--cacert", sandbox["ca_file"], "-D", "-", *args)
        if out.startswith("HTTP/1.1 200 Connection Established"):
            out = out.split("\n\n", 1)[1] if "\n\n" in out else out.split("\r\n\r\n", 1)[-1]
        return status, out, err


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.close()


def bearer(p):
    return {"Authorization": f"Bearer {p}"}


def audit_text(g):
    return json.dumps(g.call("GET", "/api/v1/audit?limit=1000").json())


def test_the_canary_reaches_the_bound_upstream_at_its_placement_and_nothing_else_anywhere(world):
    g, echo = world.g, world.echo
    world.credential()
    s = world.sandbox("openai")
    p = s["placeholders"]["openai"]
    base = f"https://api.openai.test:{echo.port}"
    received_by_sandbox = b""
    for path, method in [("/echo?model=gpt&n=1", "POST"), ("/chunked?stream=false", "POST"), ("/sse?stream=true", "GET"),
                         ("/encoded", "POST"), ("/status/500", "GET"), ("/echo", "GET")]:
        r = world.request(s, method, base + path, headers={**bearer(p), "X-Trace": "t-1"},
                          data=b'{"prompt": "hello"}' if method == "POST" else None, stream=True)
        body = b"".join(r.iter_content(4096))
        received_by_sandbox += json.dumps(dict(r.headers)).encode() + body
        assert r.status_code in (200, 500), (path, r.status_code, body[:300])
        if path.startswith("/echo"):
            assert r.headers["X-Echo-Authorization"] == f"Bearer {p}", "the reflected header is scrubbed back to the placeholder"
            assert p.encode() in body
        if path.startswith("/sse"):
            assert r.headers["Content-Type"].startswith("text/event-stream") and body.startswith(b"data: ")
    assert_absent(received_by_sandbox, "what the sandbox received")

    # The upstream: the secret in Authorization, rendered from the format, and nowhere else.
    assert len(echo.received) == 6
    for got in echo.received:
        assert got.header("Authorization") == [f"Bearer {CANARY}"], got.headers
        assert got.header("Accept-Encoding") == ["identity"], "a request that carries a credential asks for no compression"
        others = json.dumps([(k, v) for k, v in got.headers if k.lower() != "authorization"]) + got.target + got.body.decode()
        assert_absent(others, f"the upstream's request besides Authorization ({got.target})")
        assert p not in json.dumps(got.json()), "the placeholder itself is never forwarded"

    # Reflections are recorded as warnings; entries are injected ones; nothing holds the value.
    entries = g.wait_audit(lambda e: e.get("rejected_by") == "credential-reflected", sandbox=s["id"])
    reflected = [e for e in entries if e.get("rejected_by") == "credential-reflected"]
    assert reflected and all(e["action"] == "warn" and "openai" in e["reason"] for e in reflected)
    injected = [e for e in entries if e["action"] == "allow" and (e.get("path") or "").startswith(("/echo", "/chunked", "/sse", "/encoded"))]
    assert injected, entries
    assert all(e["credential"] == "openai" and e["terminated"] is True for e in injected), injected

    # Every API answer and export, and the CLI's.
    answers = [audit_text(g)]
    for path in ["/api/v1/credentials", "/api/v1/credentials/openai", f"/api/v1/sandboxes/{s['id']}",
                 f"/api/v1/sandboxes/{s['id']}/network/credentials", f"/api/v1/sandboxes/{s['id']}/network/policy",
                 f"/api/v1/sandboxes/{s['id']}/network/suggestions", "/api/v1/sandboxes", "/api/v1/network/policy",
                 "/api/v1/templates", "/api/v1/profiles", "/api/v1/audit/export", "/api/v1/nodes"]:
        r = g.call("GET", path)
        assert r.status_code == 200, (path, r.text)
        answers.append(r.text)
    answers.append(requests.get(g.api + "/metrics", timeout=10).text)
    for page in ["/", "/ui/app.js", "/ui/credentials.js"]:
        answers.append(requests.get(g.api + page, timeout=10).text)
    for args in [("credential", "ls"), ("credential", "ls", "--json"), ("credential", "ls", "--sandbox", s["id"]),
                 ("export", s["id"]), ("audit", "--sandbox", s["id"], "--json")]:
        status, out, err = cli(g, *args, check=False)
        answers.append(out + err)
    for i, text in enumerate(answers):
        assert_absent(text, f"answer #{i}")
    assert p in answers[4], "the sandbox's own credentials list shows its placeholder"

    # The database files, byte for byte, while running (WAL) and after a clean stop; serve's log.
    def files():
        return {f.name: f.read_bytes() for f in g.data.iterdir() if f.is_file()}
    running = files()
    assert any(name.endswith("-wal") for name in running), sorted(running)
    for name, data in running.items():
        assert_absent(data, f"{name} (running)")
    g.stop()
    for name, data in files().items():
        assert_absent(data, f"{name} (stopped)")
    assert_absent((world.tmp / "serve.log").read_bytes(), "serve's log")
    g.start()


def test_a_placeholder_anywhere_but_its_binding_is_refused_and_nothing_is_sent(world):
    g, echo, other = world.g, world.echo, world.other
    world.credential(methods=["POST"], path_prefix="/v1")
    world.credential(name="books", host="bücher.test", value="BOOKS-" + CANARY, require=True)
    # Rules that make the gateway look inside other hosts too, so misuse there is visible.
    s = world.sandbox("openai", "books", rules=[
        {"action": "allow", "host": "other.test", "inspect": True},
        {"action": "allow", "host": "api.openai.test", "port": other.port, "inspect": True},
        {"action": "allow", "host": "bucher.test", "inspect": True}])
    p, books = s["placeholders"]["openai"], s["placeholders"]["books"]
    # A revoked placeholder is a misuse wherever the gateway looks inside; the neighbour's
    # rule keeps the host terminated once its credential is gone (docs/inspection.md).
    neighbour = world.sandbox("openai", rules=[{"action": "allow", "host": "api.openai.test", "inspect": True}])
    bound = f"https://api.openai.test:{echo.port}"

    def refused(r, rejected_by="credential-misuse", status=403):
        assert r.status_code == status, (r.status_code, r.text)
        assert r.headers.get("X-Portcullis-Reason") == rejected_by, dict(r.headers)
        return r

    ok = world.request(s, "POST", bound + "/v1/chat", headers=bearer(p), data=b"{}")
    assert ok.status_code == 200 and echo.received[-1].header("Authorization") == [f"Bearer {CANARY}"]
    echo.clear()
    # Method, path outside the prefix (and a prefix that is not a segment boundary).
    refused(world.request(s, "GET", bound + "/v1/chat", headers=bearer(p)))
    refused(world.request(s, "POST", bound + "/v2/chat", headers=bearer(p)))
    refused(world.request(s, "POST", bound + "/v10", headers=bearer(p)))
    # Another host (terminated by a rule) and another port of the bound host.
    refused(world.request(s, "POST", f"https://other.test:{echo.port}/v1/chat", headers=bearer(p)))
    refused(world.request(s, "POST", f"https://api.openai.test:{other.port}/v1/chat", headers=bearer(p)))
    # Plain HTTP to the bound host and port: never injected.
    refused(world.request(s, "POST", f"http://api.openai.test:{echo.port}/v1/chat", headers=bearer(p)))
    # Elsewhere in the request: another header, the query, the path, the body.
    refused(world.request(s, "POST", bound + "/v1/chat", headers={"X-Api-Key": p}))
    refused(world.request(s, "POST", bound + "/v1/chat?key=" + p))
    refused(world.request(s, "POST", bound + "/v1/" + p))
    refused(world.request(s, "POST", bound + "/v1/chat", data=json.dumps({"key": p}).encode()))
    refused(world.request(s, "POST", bound + "/v1/chat", headers={"Authorization": f"Bearer {p}", "X-Copy": p}))
    # Another sandbox's placeholder, and a revoked one.
    refused(world.request(s, "POST", bound + "/v1/chat", headers=bearer(neighbour["placeholders"]["openai"])))
    assert g.call("DELETE", f"/api/v1/sandboxes/{neighbour['id']}/network/credentials/openai").status_code == 204
    refused(world.request(neighbour, "POST", bound + "/v1/chat", headers=bearer(neighbour["placeholders"]["openai"])))
    # CONNECT to the bound host with Host of another: 421, nothing forwarded.
    refused(world.request(s, "POST", bound + "/v1/chat", headers={**bearer(p), "Host": f"other.test:{echo.port}"}),
            "authority-mismatch", 421)
    # A placeholder in the CONNECT target itself.
    status, out, err = world.curl(s, "-X", "POST", f"https://{p}.openai.test:{echo.port}/v1/chat")
    assert " 403" in out.split("\r\n")[0] and "credential-misuse" in out, (status, out, err)
    assert echo.received == [] and other.received == [], [r.json() for r in echo.received + other.received]

    # h2 on the client leg: the secret goes in, and :authority must name the SNI host.
    status, out, err = world.curl(s, "--http2", "-X", "POST", "-H", f"Authorization: Bearer {p}", bound + "/v1/chat")
    assert status == 0 and out.startswith("HTTP/2 200"), (status, out, err)
    assert echo.received[-1].header("Authorization") == [f"Bearer {CANARY}"]
    assert_absent(out, "an h2 answer")
    echo.clear()
    status, out, err = world.curl(s, "--http2", "-X", "POST", "-H", f"Authorization: Bearer {p}",
                                  "-H", f"Host: other.test:{echo.port}", bound + "/v1/chat")
    assert out.startswith("HTTP/2 421") and "authority-mismatch" in out, (status, out, err)
    assert echo.received == []

    # Spelling: upper case and a trailing dot name the same host; the secret still goes only there.
    r = world.request(s, "POST", f"https://API.OpenAI.TEST:{echo.port}/v1/chat", headers=bearer(p))
    assert r.status_code == 200 and echo.received[-1].header("Authorization") == [f"Bearer {CANARY}"], r.text
    status, out, err = world.curl(s, "-X", "POST", "-H", f"Authorization: Bearer {p}", f"https://api.openai.test.:{echo.port}/v1/chat")
    assert status == 0 and out.split("\n")[0].split()[1] == "200", (status, out, err)
    assert echo.received[-1].header("Authorization") == [f"Bearer {CANARY}"]
    assert echo.received[-1].header("Host") == [f"api.openai.test:{echo.port}"], "the upstream gets the canonical name"
    assert_absent(out, "the answer to a trailing-dot request")
    echo.clear()

    # IDN: the binding to bücher.test is its A-label; a look-alike without the umlaut is another host.
    r = world.request(s, "GET", f"https://xn--bcher-kva.test:{echo.port}/", headers=bearer(books))
    assert r.status_code == 200 and echo.received[-1].header("Authorization") == [f"Bearer BOOKS-{CANARY}"], r.text
    refused(world.request(s, "GET", f"https://bucher.test:{echo.port}/", headers=bearer(books)))
    refused(world.request(s, "GET", f"https://xn--bcher-kva.test:{echo.port}/"), "credential-required")
    echo.clear()

    # An IP literal (the bound host's own address) is another host: the gateway leaves it an
    # opaque tunnel, so the placeholder may travel inside it; the secret never does.
    r = world.request(s, "POST", f"https://127.0.0.1:{echo.port}/v1/chat", headers=bearer(p), verify=False)
    assert r.status_code == 200 and echo.received[-1].header("Authorization") == [f"Bearer {p}"]
    assert_absent(echo.everything() + other.everything(), "an IP literal's upstream")


def test_git_over_https_with_a_basic_placeholder_reaches_the_upstream_with_the_real_password(world):
    g = world.g
    git_server = GitUpstream(world.ca, world.tmp / "git", "deploy", CANARY)
    try:
        world.credential(name="git", host="git.test", port=git_server.port, placement={"kind": "basic"})
        s = world.sandbox("git")
        p = s["placeholders"]["git"]
        home = world.tmp / "home"
        home.mkdir()
        dest = world.tmp / "clone"
        env = dict(os.environ, HOME=str(home), GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1",
                   GIT_SSL_CAINFO=s["ca_file"], HTTPS_PROXY=g.proxy_url(s), https_proxy=g.proxy_url(s))
        for variable in ("http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
            env.pop(variable, None)
        p_ = subprocess.run(["git", "clone", f"https://deploy:{p}@git.test:{git_server.port}/repo.git", str(dest)],
                            capture_output=True, text=True, env=env, timeout=60)
        assert p_.returncode == 0, p_.stderr
        assert (dest / "README").read_text() == "the repository behind the credential\n"
        expected = "Basic " + base64.b64encode(f"deploy:{CANARY}".encode()).decode()
        assert expected in git_server.authorizations, git_server.authorizations
        assert all(a in (None, expected) for a in git_server.authorizations), "the placeholder itself never reached the server"
        assert_absent(p_.stdout + p_.stderr, "git's output")
        for path in dest.rglob("*"):
            if path.is_file():
                assert_absent(path.read_bytes(), f"the clone's {path.relative_to(dest)}")
        entries = g.wait_audit(lambda e: e.get("host") == "git.test" and (e.get("path") or "").endswith("git-upload-pack"), sandbox=s["id"])
        assert_absent(json.dumps(entries), "the audit of the clone")
    finally:
        git_server.close()


def test_rotation_detach_delete_and_restart_through_the_cli(world):
    g, echo = world.g, world.echo
    value_file = world.tmp / "value.txt"
    value_file.write_text(CANARY + "\n")
    _, out, _ = cli(g, "credential", "set", "openai", "--host", "api.openai.test", "--port", str(echo.port),
                    "--header", "Authorization", "--format", "Bearer {secret}", "--value-file", str(value_file))
    assert out.startswith("created credential openai") and CANARY not in out
    # The rule keeps the host terminated after the detach, so the revoked placeholder is seen.
    s = world.sandbox(rules=[{"action": "allow", "host": "api.openai.test", "inspect": True}])
    _, out, _ = cli(g, "credential", "attach", s["id"], "openai", "--env", "OPENAI_API_KEY")
    line = out.strip()
    assert line.startswith("export OPENAI_API_KEY=pcx_"), line
    p = line.split("=", 1)[1]
    url = f"https://api.openai.test:{echo.port}/echo"

    assert world.request(s, "GET", url, headers=bearer(p)).status_code == 200
    assert echo.received[-1].header("Authorization") == [f"Bearer {CANARY}"]
    # Rotation from stdin: the next request carries the new value; the placeholder stays.
    _, out, _ = cli(g, "credential", "set", "openai", "--host", "api.openai.test", "--port", str(echo.port),
                    "--header", "Authorization", "--format", "Bearer {secret}", "--value-stdin", input=ROTATED + "\n")
    assert "rotated" in out and ROTATED not in out
    assert world.request(s, "GET", url, headers=bearer(p)).status_code == 200
    assert echo.received[-1].header("Authorization") == [f"Bearer {ROTATED}"]
    listed = g.call("GET", f"/api/v1/sandboxes/{s['id']}/network/credentials").json()["items"]
    assert [i["placeholder"] for i in listed] == [p]

    # A restart keeps the credential, its value and the placeholder.
    g.stop()
    g.start()
    r = world.request(s, "GET", url, headers=bearer(p))
    assert r.status_code == 200 and echo.received[-1].header("Authorization") == [f"Bearer {ROTATED}"]
    assert g.call("GET", f"/api/v1/sandboxes/{s['id']}/network/credentials").json()["items"][0]["placeholder"] == p

    # Detach revokes at once.
    _, out, _ = cli(g, "credential", "detach", s["id"], "openai")
    count = len(echo.received)
    r = world.request(s, "GET", url, headers=bearer(p))
    assert r.status_code == 403 and r.headers["X-Portcullis-Reason"] == "credential-misuse"
    assert len(echo.received) == count
    # Attaching again gives a new placeholder; deleting the credential revokes that one too.
    _, out, _ = cli(g, "credential", "attach", s["id"], "openai")
    again = out.strip().split("=", 1)[1]
    assert out.startswith("export OPENAI=") and again != p
    assert world.request(s, "GET", url, headers=bearer(again)).status_code == 200
    cli(g, "credential", "rm", "openai")
    r = world.request(s, "GET", url, headers=bearer(again))
    assert r.status_code == 403 and r.headers["X-Portcullis-Reason"] == "credential-misuse"
    assert_absent(audit_text(g), "the audit log", secrets=(CANARY, ROTATED))


def test_the_cli_takes_values_only_from_env_file_or_stdin_and_exports_placeholders(world):
    g = world.g
    status, _, err = cli(g, "credential", "set", "k", "--host", "api.openai.test", "--basic", "--value", CANARY, check=False)
    assert status == 2 and "--value" in err
    status, _, err = cli(g, "credential", "set", "k", "--host", "api.openai.test", "--basic", check=False)
    assert status == 2 and "does not exist yet" in err
    status, _, err = cli(g, "credential", "set", "k", "--host", "api.openai.test", check=False)
    assert status == 2 and "give one placement" in err
    env = dict(os.environ, PORTCULLIS_URL=g.api, PORTCULLIS_TOKEN=g.admin, XDG_CONFIG_HOME=str(g.tmp / "config"), SECRET_FOR_K=CANARY)
    p = subprocess.run([str(BINARY), "credential", "set", "k", "--host", "api.openai.test", "--query", "key",
                        "--value-from-env", "SECRET_FOR_K", "--require"], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    c = g.call("GET", "/api/v1/credentials/k").json()
    assert c["placement"] == {"kind": "query", "name": "key"} and c["require"] is True and c["binding"]["port"] == 443
    status, _, err = cli(g, "credential", "set", "bad", "--host", "203.0.113.9", "--basic", "--value-stdin", input=CANARY, check=False)
    assert status == 1 and "binding.host" in err and CANARY not in err

    _, out, _ = cli(g, "sandbox", "create", "--credential", "k:K_PLACEHOLDER", "--env")
    lines = out.splitlines()
    assert lines[0].startswith("export HTTP_PROXY=") and re.fullmatch(r"export K_PLACEHOLDER=pcx_[a-z2-7]{32}", lines[-1]), lines
    sandbox_id = lines[0].split("http://")[1].split(":")[0]
    _, shown, _ = cli(g, "sandbox", "show", sandbox_id, "--env")
    assert shown.splitlines()[-1] == "export K=" + lines[-1].split("=", 1)[1]
    _, shown, _ = cli(g, "sandbox", "show", sandbox_id, "--env", "--credential", "k:KEY_VAR")
    assert shown.splitlines()[-1] == "export KEY_VAR=" + lines[-1].split("=", 1)[1]
    status, _, err = cli(g, "sandbox", "show", sandbox_id, "--env", "--credential", "other", check=False)
    assert status == 2 and "not attached" in err, err
    status, _, err = cli(g, "sandbox", "create", "--credential", "nope", check=False)
    assert status == 1 and "not found" in err and "removed again" in err
    assert len(g.call("GET", "/api/v1/sandboxes").json()["items"]) == 1, "the half-made sandbox is gone"
    status, _, err = cli(g, "sandbox", "create", "--credential", "k:PATH", check=False)
    assert status == 2 and "PATH" in err


def test_query_and_basic_placements_inject_there_only_and_every_echo_is_scrubbed(world):
    echo = world.echo
    world.credential(name="search", host="git.test", placement={"kind": "query", "name": "key"})
    world.credential(name="basic", host="other.test", placement={"kind": "basic"})
    s = world.sandbox("search", "basic")
    q, b = s["placeholders"]["search"], s["placeholders"]["basic"]
    received = b""

    # Query: the parameter's value becomes the secret; the other parameters and their order stay.
    for path in ["/echo", "/encoded"]:
        r = world.request(s, "GET", f"https://git.test:{echo.port}{path}?q=cats&key={q}&n=2")
        assert r.status_code == 200, r.text
        received += json.dumps(dict(r.headers)).encode() + r.content
        assert echo.received[-1].target == f"{path}?q=cats&key={CANARY}&n=2", echo.received[-1].target
        assert r.headers["X-Echo-Query"] == f"q=cats&key={q}&n=2", "the reflected query is scrubbed"
    assert q.encode() in received
    # The placeholder in another parameter, or in a header, of the bound host: refused.
    count = len(echo.received)
    for kwargs in [{"params": {"other": q}}, {"headers": {"Authorization": f"Bearer {q}"}}]:
        r = world.request(s, "GET", f"https://git.test:{echo.port}/echo", **kwargs)
        assert r.status_code == 403 and r.headers["X-Portcullis-Reason"] == "credential-misuse", r.text
    assert len(echo.received) == count, "nothing was sent for a misuse"

    # Basic: the decoded password becomes the secret, the username is kept.
    r = world.request(s, "POST", f"https://other.test:{echo.port}/encoded", auth=("deploy", b), data=b"x")
    assert r.status_code == 200, r.text
    received += json.dumps(dict(r.headers)).encode() + r.content
    expected = "Basic " + base64.b64encode(f"deploy:{CANARY}".encode()).decode()
    assert echo.received[-1].header("Authorization") == [expected]
    assert r.headers["X-Echo-Authorization"] != expected, "the echoed Basic header is scrubbed"

    assert_absent(received, "what the sandbox received")
    assert base64.b64encode(f"deploy:{CANARY}".encode()) not in received
    for got in echo.received:
        assert q not in got.target and b not in json.dumps(got.headers), "a placeholder was forwarded"
