"""The client without a gateway: settings, errors by status, connection failures and
timeouts, path parameters, bodies, the event-stream decoder."""
import asyncio
import json
import socket
import threading

import httpx
import pytest

import portcullis
from portcullis._base import SSEDecoder, to_input


def mock_client(handler, **kw):
    return portcullis.Portcullis(base_url="http://gateway.test", api_key="k", http_client=httpx.Client(transport=httpx.MockTransport(handler)), **kw)


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("PORTCULLIS_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("PORTCULLIS_TOKEN", "from-env")
    c = portcullis.Portcullis()
    assert c.base_url == "http://127.0.0.1:9" and c.timeout == 30
    assert "from-env" not in repr(c)
    c.close()
    monkeypatch.delenv("PORTCULLIS_URL")
    assert portcullis.AsyncPortcullis(timeout=5).base_url == "http://127.0.0.1:8080"


def test_a_missing_key_or_a_bad_url_is_refused_at_construction(monkeypatch):
    monkeypatch.delenv("PORTCULLIS_TOKEN", raising=False)
    with pytest.raises(portcullis.PortcullisError, match="PORTCULLIS_TOKEN"):
        portcullis.Portcullis(base_url="http://127.0.0.1:9")
    with pytest.raises(portcullis.PortcullisError, match="http"):
        portcullis.Portcullis(base_url="ftp://x", api_key="k")


@pytest.mark.parametrize("status,cls", [
    (400, portcullis.BadRequestError), (401, portcullis.AuthenticationError), (403, portcullis.PermissionDeniedError),
    (404, portcullis.NotFoundError), (409, portcullis.ConflictError), (429, portcullis.RateLimitError),
    (500, portcullis.APIStatusError), (418, portcullis.APIStatusError),
])
def test_each_status_raises_its_class(status, cls):
    c = mock_client(lambda req: httpx.Response(status, json={"error": f"said {status}"}))
    with pytest.raises(cls) as info:
        c.sandboxes.get("sbx_1")
    e = info.value
    assert type(e) is cls and isinstance(e, portcullis.APIStatusError) and isinstance(e, portcullis.PortcullisError)
    assert e.status_code == status and e.message == f"said {status}" and e.body == {"error": f"said {status}"}


def test_an_error_without_a_json_body_keeps_its_text():
    c = mock_client(lambda req: httpx.Response(502, text="bad gateway\nmore"))
    with pytest.raises(portcullis.APIStatusError) as info:
        c.profiles.list()
    assert info.value.message == "bad gateway" and info.value.status_code == 502


def test_requests_carry_the_key_only_where_the_document_asks_for_it():
    seen = []

    def handler(req):
        seen.append((req.url.path, req.headers.get("authorization")))
        return httpx.Response(200, text="ok")

    c = mock_client(handler)
    c.health()
    c.metrics()
    assert seen == [("/healthz", None), ("/metrics", None)]


def test_path_parameters_are_encoded_and_dot_segments_refused():
    seen = []
    c = mock_client(lambda req: seen.append(req.url.raw_path) or httpx.Response(204))
    c.sandboxes.delete("a/b?c")
    assert seen == [b"/api/v1/sandboxes/a%2Fb%3Fc"]
    for bad in ("", ".", ".."):
        with pytest.raises(ValueError):
            c.sandboxes.network(bad).observe()
    assert len(seen) == 1


def test_connection_refused_is_an_api_connection_error():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    c = portcullis.Portcullis(base_url=f"http://127.0.0.1:{port}", api_key="k")
    with pytest.raises(portcullis.APIConnectionError) as info:
        c.sandboxes.get("sbx_1")
    assert not isinstance(info.value, portcullis.APITimeoutError)

    async def run():
        async with portcullis.AsyncPortcullis(base_url=f"http://127.0.0.1:{port}", api_key="k") as a:
            await a.sandboxes.get("sbx_1")
    with pytest.raises(portcullis.APIConnectionError):
        asyncio.run(run())


def test_a_silent_server_is_an_api_timeout_error():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(4)  # accepts (the kernel's backlog) and never answers
    try:
        c = portcullis.Portcullis(base_url=f"http://127.0.0.1:{s.getsockname()[1]}", api_key="k", timeout=0.3)
        with pytest.raises(portcullis.APITimeoutError):
            c.sandboxes.get("sbx_1")

        async def run():
            async with portcullis.AsyncPortcullis(base_url=f"http://127.0.0.1:{s.getsockname()[1]}", api_key="k", timeout=0.3) as a:
                await a.sandboxes.get("sbx_1")
        with pytest.raises(portcullis.APITimeoutError):
            asyncio.run(run())
    finally:
        s.close()


def test_bodies_leave_out_what_was_not_given_and_send_models_as_the_api_takes_them():
    bodies = []

    def handler(req):
        bodies.append(json.loads(req.content) if req.content else None)
        return httpx.Response(200, json=SANDBOX)

    c = mock_client(handler)
    c.sandboxes.update("sbx_1", name=None)
    c.sandboxes.update("sbx_1", source_addresses=["10.0.0.1"])
    assert bodies == [{"name": None}, {"source_addresses": ["10.0.0.1"]}]
    rule = portcullis.Rule.from_dict(RULE)
    # A rule read with GET goes back whole: the policy bodies take a rule's answer-only
    # fields (docs/api.md, "Sending a policy back"); a new rule's body does not.
    body = to_input({"mode": "allowlist", "allow_rules": [rule]}, "ExportedPolicy")
    assert body == {"mode": "allowlist", "allow_rules": [RULE]}
    assert to_input(rule, "NewRule") == {k: v for k, v in RULE.items() if k not in ("id", "source", "created_at")}
    template = {"name": "t", "mode": None, "allow_rules": [], "deny_rules": [], "profiles": [], "created_at": "x", "updated_at": "y"}
    assert to_input(template, "ExportedPolicy") == {"mode": None, "allow_rules": [], "deny_rules": [], "profiles": [], "updated_at": "y"}
    assert to_input({"unknown": 1}, "ExportedPolicy") == {"unknown": 1}, "unknown fields reach the API, which refuses them"


def test_models_read_and_write_the_api_json():
    rule = portcullis.Rule.from_dict({**RULE, "a_future_field": 1})
    assert rule.except_ == ["ok.example.com"] and rule.created_at.year == 2026
    assert rule.to_dict() == RULE
    sbx = portcullis.SandboxData.from_dict(SANDBOX)
    assert sbx.to_dict() == SANDBOX and "s3cret" not in repr(sbx)
    assert portcullis.SandboxData.from_dict({**SANDBOX, "updated_at": "2026-04-11T00:00:00.5Z"}) == sbx


def test_server_sent_events_are_decoded_as_the_standard_says():
    d = SSEDecoder()
    got = [d.feed(line) for line in [": keep-alive", "", "event: x", "data: {\"a\":", "data:1}", "id: 7", "", "data: 2", ""]]
    assert [g for g in got if g is not None] == ['{"a":\n1}', "2"]


def test_the_live_log_reads_events_as_they_come():
    lines = threading.Event()

    def handler(req):
        assert req.url.path == "/api/v1/audit/stream" and req.url.params["sandbox"] == "sbx_1"
        body = b": keep-alive\n\ndata: " + json.dumps(ENTRY).encode() + b"\n\n"
        lines.set()
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    c = mock_client(handler)
    with c.sandboxes.network("sbx_1").log() as log:
        assert lines.is_set(), "the stream is opened by `with`"
        entries = list(log)
    assert [(e.host, e.action) for e in entries] == [("api.openai.com", "allow")]


RULE = {"id": "rul_1", "action": "deny", "host": "*.example.com", "port": None, "protocol": "any", "methods": None,
        "paths": None, "warn_only": False, "inspect": None, "except": ["ok.example.com"], "note": None, "source": "local",
        "created_at": "2026-04-11T00:00:00Z"}
SANDBOX = {"id": "sbx_1", "name": None, "mode": "audit", "own_mode": None, "profiles": [], "source_addresses": [],
           "created_at": "2026-04-11T00:00:00Z", "updated_at": "2026-04-11T00:00:00.500000Z",
           "proxy": {"http_url": "http://sbx_1:s3cret@127.0.0.1:3128", "socks_url": "socks5h://sbx_1:s3cret@127.0.0.1:1080",
                     "host": "127.0.0.1", "http_port": 3128, "socks_port": 1080, "username": "sbx_1", "password": "s3cret"}}
ENTRY = {"id": "aud_1", "time": "2026-04-11T00:00:00Z", "tenant_id": "tnt_default", "sandbox_id": "sbx_1", "client": "127.0.0.1",
         "via": "http", "host": "api.openai.com", "sni": None, "address": "127.0.0.1", "port": 80, "protocol": "tcp",
         "method": "GET", "path": "/", "action": "allow", "would_reject": False, "rule_id": None, "rejected_by": None,
         "reason": "", "status": 200, "bytes_up": 1, "bytes_down": 2, "duration_ms": 3, "policy_version": 4,
         "terminated": False, "credential": None}


def test_wait_fleet_is_sent_only_where_policy_changes():
    seen = []

    def handler(req):
        seen.append((req.method, req.url.path, dict(req.url.params)))
        return httpx.Response(201 if req.method == "POST" else 200, json=RULE if "rules" in req.url.path else SANDBOX)

    c = mock_client(handler)
    c.sandboxes.network("sbx_1").allow("example.com", wait="fleet")
    c.sandboxes.get("sbx_1")
    assert seen == [("POST", "/api/v1/sandboxes/sbx_1/network/rules", {"wait": "fleet"}),
                    ("GET", "/api/v1/sandboxes/sbx_1", {})]
    with pytest.raises(ValueError, match="fleet"):
        c.sandboxes.network("sbx_1").observe(wait="soon")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="createTemplate changes no policy"):
        c._json("createTemplate", body={"name": "t"}, wait="fleet")
    assert len(seen) == 2


def test_the_202_of_wait_fleet_is_a_fleet_lagging_error():
    lagging = {"policy_version": 42, "lagging": ["gw-b", "gw-c"]}
    c = mock_client(lambda req: httpx.Response(202, json=lagging))
    with pytest.raises(portcullis.FleetLaggingError) as info:
        c.sandboxes.network("sbx_1").lockdown(wait="fleet")
    e = info.value
    assert (e.policy_version, e.lagging, e.status_code) == (42, ["gw-b", "gw-c"], 202)
    assert "was made" in str(e) and "gw-b, gw-c" in str(e)
    assert (e.result, e.result_status) == (None, None)
    # The call's own answer travels inside the 202: a created sandbox is not lost.
    created = {"policy_version": 43, "lagging": ["gw-b"], "status": 201, "result": {"id": "sbx_9"}}
    made = mock_client(lambda req: httpx.Response(202, json=created))
    with pytest.raises(portcullis.FleetLaggingError) as info:
        made.sandboxes.create(wait="fleet")
    assert (info.value.result, info.value.result_status) == ({"id": "sbx_9"}, 201)
    with pytest.raises(portcullis.FleetLaggingError):
        c.sandboxes.delete("sbx_1", wait="fleet")

    async def run():
        transport = httpx.MockTransport(lambda req: httpx.Response(202, json=lagging))
        async with portcullis.AsyncPortcullis(base_url="http://gateway.test", api_key="k",
                                              http_client=httpx.AsyncClient(transport=transport)) as a:
            await a.network.lockdown(wait="fleet")
    with pytest.raises(portcullis.FleetLaggingError):
        asyncio.run(run())
    odd = mock_client(lambda req: httpx.Response(202, text="accepted"))
    with pytest.raises(portcullis.APIStatusError, match="202"):
        odd.network.observe(wait="fleet")


def test_a_fleet_is_a_list_of_nodes_with_the_newest_version():
    node = {"id": "gw-a", "api_address": "10.0.0.1:8080", "proxy_address": "10.0.0.1:3128", "version": "0.1.0",
            "started_at": "2026-04-11T00:00:00Z", "last_heartbeat": "2026-04-11T00:00:02Z",
            "applied_policy_version": 7, "lag": 0, "state": "up"}
    nodes = [node, {**node, "id": "gw-b", "applied_policy_version": 5, "lag": 2},
             {**node, "id": "gw-c", "applied_policy_version": 1, "lag": 6, "state": "down"}]
    c = mock_client(lambda req: httpx.Response(200, json={"items": nodes, "policy_version": 7}))
    fleet = c.nodes.list()
    assert [n.id for n in fleet] == ["gw-a", "gw-b", "gw-c"] and fleet.policy_version == 7
    assert fleet[1].lag == 2 and fleet[2].state == "down" and fleet[0].last_heartbeat.second == 2
    assert [n.id for n in fleet.lagging()] == ["gw-b"], "a down node is not waited for"



PENDING = {"host": "a.test", "port": 443, "first_seen": "2026-04-11T00:00:00Z", "last_seen": "2026-04-11T00:00:00Z",
           "count": 1, "suggested_rule": {"action": "allow", "host": "a.test", "port": 443}}


def paged_pending(hosts, per_page, fetched):
    """A handler answering GET …/pending with `hosts` in pages of `per_page`; appends each cursor it is asked for."""
    def handler(req):
        cursor = req.url.params.get("cursor")
        fetched.append(cursor)
        start = int(cursor or 0)
        page = [{**PENDING, "id": f"pnd_{i}", "host": h} for i, h in enumerate(hosts)][start:start + per_page]
        more = start + per_page < len(hosts)
        return httpx.Response(200, json={"items": page, "next_cursor": str(start + per_page) if more else None})
    return handler


def test_a_pager_used_as_a_list_fetches_every_page_once():
    fetched = []
    c = mock_client(paged_pending(["a.test", "b.test", "c.test"], 2, fetched))
    pending = c.sandboxes.network("sbx_1").pending()
    assert fetched == [], "nothing is fetched before the pager is used"
    assert [p.host for p in pending] == ["a.test", "b.test", "c.test"] and fetched == [None, "2"]
    assert [p.host for p in pending] == ["a.test", "b.test", "c.test"] and len(fetched) == 4, "a loop fetches again"
    fetched.clear()
    assert len(pending) == 3 and fetched == [None, "2"]
    assert pending[0].host == "a.test" and pending[-1].host == "c.test" and [p.host for p in pending[1:]] == ["b.test", "c.test"]
    assert bool(pending) and pending == list(pending) and pending != [] and pending.to_list() == list(pending)
    assert [p.host for p in pending] == ["a.test", "b.test", "c.test"] and fetched == [None, "2"], "kept after the first list use"
    assert isinstance(pending[0], portcullis.Pending) and callable(pending[0].allow)
    with pytest.raises(IndexError):
        pending[3]

    fetched.clear()
    c2 = mock_client(paged_pending([], 2, fetched))
    empty = c2.sandboxes.network("sbx_1").pending()
    assert not empty and len(empty) == 0 and empty == [] and fetched == [None]
    assert c2.audit.list(action="reject") is not c2.audit.list(action="reject"), "each call is a fresh list"


def test_an_async_pager_is_awaited_for_its_list():
    fetched = []
    handler = paged_pending(["a.test", "b.test", "c.test"], 2, fetched)

    async def run():
        async with portcullis.AsyncPortcullis(base_url="http://gateway.test", api_key="k",
                                              http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler))) as c:
            pager = c.sandboxes.network("sbx_1").pending()
            listed = await pager
            assert isinstance(listed, list) and [p.host for p in listed] == ["a.test", "b.test", "c.test"]
            assert (await pager.to_list()) == listed and fetched == [None, "2"], "pages fetched once"
            assert [p.host async for p in pager] == ["a.test", "b.test", "c.test"] and fetched == [None, "2"]
            assert [p.host async for p in c.sandboxes.network("sbx_1").pending()] == ["a.test", "b.test", "c.test"]
    asyncio.run(run())

CREDENTIAL = {"id": "cred_1", "name": "openai", "binding": {"host": "api.openai.com", "port": 443, "methods": None, "path_prefix": "/v1"},
              "placement": {"kind": "header", "name": "Authorization", "format": "Bearer {secret}"}, "require": True,
              "created_at": "2026-04-11T00:00:00Z", "rotated_at": None}


def test_a_credential_update_sends_the_whole_credential_with_what_changed():
    sent = []

    def handler(req):
        sent.append((req.method, json.loads(req.content) if req.content else None))
        return httpx.Response(200, json=CREDENTIAL)

    c = mock_client(handler)
    c.credentials.update("openai", value="sk-new-secret")
    current = {k: CREDENTIAL[k] for k in ("binding", "placement", "require")}
    assert sent == [("GET", None), ("PUT", {"name": "openai", **current, "value": "sk-new-secret"})]
    sent.clear()
    c.credentials.update("openai", binding={"host": "api.openai.com"}, placement={"kind": "basic"}, require=False)
    assert sent == [("PUT", {"name": "openai", "binding": {"host": "api.openai.com"}, "placement": {"kind": "basic"}, "require": False})]
    assert "sk-new-secret" not in repr(c.credentials.get("openai"))


def test_credential_calls_wait_only_where_policy_changes():
    sent = []

    def handler(req):
        sent.append((req.method, str(req.url).replace("http://gateway.test", "")))
        if req.method == "DELETE":
            return httpx.Response(204)
        if req.method == "POST" and "/sandboxes/" in req.url.path:
            return httpx.Response(200, json={"name": "open.ai", "placeholder": "pcx_" + "a" * 32, "binding": CREDENTIAL["binding"]})
        return httpx.Response(200, json=CREDENTIAL)

    c = mock_client(handler)
    c.credentials.update("openai", value="sk-new-secret", wait="fleet")
    assert sent == [("GET", "/api/v1/credentials/openai"), ("PUT", "/api/v1/credentials/openai?wait=fleet")]
    sent.clear()
    net = c.sandboxes.network("sbx_1")
    assert net.credentials.attach("open.ai", wait="fleet").placeholder == "pcx_" + "a" * 32
    net.credentials.detach("open.ai")
    assert sent == [("POST", "/api/v1/sandboxes/sbx_1/network/credentials/open.ai?wait=fleet"),
                    ("DELETE", "/api/v1/sandboxes/sbx_1/network/credentials/open.ai")]
    sent.clear()
    # The tenant-level spellings: name positional in create, replace (update is its alias), attach/detach by sandbox id.
    c.credentials.create("openai", value="sk-new-secret", binding={"host": "api.openai.com"}, placement={"kind": "basic"})
    c.credentials.replace("openai", value="sk-new-secret", binding={"host": "api.openai.com"}, placement={"kind": "basic"}, require=True)
    assert c.credentials.update == c.credentials.replace
    assert c.credentials.attach("sbx_1", "open.ai", wait="fleet").placeholder == "pcx_" + "a" * 32
    c.credentials.detach("sbx_1", "open.ai")
    assert sent == [("POST", "/api/v1/credentials"), ("PUT", "/api/v1/credentials/openai"),
                    ("POST", "/api/v1/sandboxes/sbx_1/network/credentials/open.ai?wait=fleet"),
                    ("DELETE", "/api/v1/sandboxes/sbx_1/network/credentials/open.ai")]
    sent.clear()
    with pytest.raises(ValueError):
        c.credentials.get("..")
    with pytest.raises(TypeError):
        c.credentials.get("openai", wait="fleet")  # a read takes no wait
    assert sent == []
