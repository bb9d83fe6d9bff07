"""Every operation of the OpenAPI document through the SDK, against a live serve, once with
the sync client and once with the async one. The operations are recovered from the
requests the client sent (not from the SDK's tables); the tour fails if one is missing.

The sync tour passes `wait="fleet"` to every policy-changing call (one node on SQLite is a
fleet of one, so each answers as usual) and checks, from serve's policy version, that the
calls the SDK lets wait are exactly the ones that change policy."""
import asyncio
import datetime
import json
import re

import pytest

import portcullis
from conftest import Recorder, proxied
from portcullis._operations import OPERATIONS
from helpers import aw, close, items, next_event, poll


async def tour(admin, client, gateway, upstream, name, wait=None):
    base = f":{upstream.port}"
    w = {"wait": wait} if wait else {}

    # Operations (no key needed).
    assert await aw(client.health()) == "ok"
    ready = await aw(client.readiness())
    assert ready.ready and isinstance(ready, portcullis.Readiness)
    assert "portcullis" in await aw(client.metrics())

    # Tenants and keys (admin).
    t = await aw(admin.tenants.create(f"{name}-other", **w))
    assert isinstance(t, portcullis.TenantCreated) and t.id.startswith("tnt_") and t.api_key
    assert t.api_key not in repr(t)
    listed = await items(admin.tenants.list(limit=1))
    assert t.id in {x.id for x in listed}
    key = await aw(admin.tenants.create_key(t.id))
    assert key.id.startswith("key_") and key.api_key not in repr(key)
    assert await aw(admin.tenants.revoke_key(t.id, key.id)) is None

    # The fleet's nodes (admin): one node on SQLite lists itself.
    fleet = await aw(admin.nodes.list())
    assert isinstance(fleet, portcullis.Fleet) and isinstance(fleet, list) and fleet.policy_version >= 1
    [node] = fleet
    assert isinstance(node, portcullis.Node) and node.state == "up" and gateway.api.endswith(node.api_address)
    assert node.lag == fleet.policy_version - node.applied_policy_version >= 0
    assert isinstance(node.last_heartbeat, datetime.datetime) and node.version
    assert f"policy_version={fleet.policy_version}" in repr(fleet)

    # Sandboxes.
    sbx = await aw(client.sandboxes.create(name=name, network={"allow": ["api.openai.test"]}, **w))
    assert isinstance(sbx, (portcullis.Sandbox, portcullis.AsyncSandbox))
    assert sbx.mode == "allowlist" and sbx.own_mode == "allowlist" and sbx.id.startswith("sbx_")
    assert isinstance(sbx.created_at, datetime.datetime) and sbx.proxy.username == sbx.id
    assert sbx.proxy.password not in repr(sbx)
    assert (await aw(client.sandboxes.get(sbx.id))).id == sbx.id
    assert sbx.id in [s.id for s in await items(client.sandboxes.list())]
    renamed = await aw(client.sandboxes.update(sbx.id, name="renamed", **w))
    assert renamed.name == "renamed"
    assert (await aw(client.sandboxes.update(sbx.id, source_addresses=[], **w))).name == "renamed", "PATCH changes only what is given"
    ca = await aw(client.sandboxes.ca_pem(sbx.id))
    assert ca.startswith("-----BEGIN CERTIFICATE-----") and "PRIVATE" not in ca

    # One sandbox's network.
    net = sbx.network
    warn = await aw(net.allow("pypi.test", warn_only=True, note="trial", **w))
    assert isinstance(warn, portcullis.Rule) and warn.warn_only and warn.source == "local" and warn.note == "trial"
    deny = await aw(net.deny("*.metadata.test", except_=["ok.metadata.test"], **w))
    assert deny.action == "deny" and deny.except_ == ["ok.metadata.test"]
    policy = await aw(net.get_policy())
    assert isinstance(policy, portcullis.SandboxPolicy)
    assert {r.host for r in policy.allow_rules} == {"api.openai.test", "pypi.test"}
    assert [r.host for r in policy.deny_rules] == ["*.metadata.test"]
    await aw(net.remove_rule(deny.id, **w))
    assert (await aw(net.get_policy())).deny_rules == []
    inspected = await aw(net.allow("api.openai.test", port=443, inspect=True, **w))
    assert inspected.inspect is True and warn.inspect is None
    await aw(net.remove_rule(inspected.id, **w))
    explained = await aw(net.explain("pypi.test", port=80))
    assert explained.action == "warn" and explained.rule_id == warn.id and explained.stage == "name"
    policy = await aw(net.attach_profile("pypi", **w))
    assert "pypi" in policy.profiles
    assert "pypi" not in (await aw(net.detach_profile("pypi", **w))).profiles

    # The live log, a rejection, the pending queue and its one-click resolution.
    log = net.log()
    await aw(log.open())
    try:
        assert proxied(sbx, f"http://api.openai.test{base}/").status_code == 200
        r = proxied(sbx, f"http://other.test{base}/")
        assert r.status_code == 403 and r.headers["X-Portcullis-Reason"] == "default-deny"
        first = await next_event(log)
        assert isinstance(first, portcullis.AuditEntry)
        assert (first.host, first.action, first.sandbox_id) == ("api.openai.test", "allow", sbx.id)
        second = await next_event(log)
        assert (second.host, second.action, second.rejected_by) == ("other.test", "reject", "default-deny")
    finally:
        await close(log)
    assert proxied(sbx, f"http://denied.test{base}/").status_code == 403
    pending = await poll(lambda: _when(items(net.pending()), lambda ps: len(ps) == 2))
    assert {p.host for p in pending} == {"other.test", "denied.test"}
    by_host = {p.host: p for p in pending}
    allowed = await aw(by_host["other.test"].allow(**w))
    assert allowed.rule.action == "allow" and allowed.rule.host == "other.test" and allowed.pending.host == "other.test"
    blocked = await aw(net.block_pending(by_host["denied.test"].id, **w))
    assert blocked.rule.action == "deny"
    assert await items(net.pending()) == []
    assert proxied(sbx, f"http://other.test{base}/").status_code == 200
    # allow_pending and Pending.block: a second entry.
    assert proxied(sbx, f"http://allowed.test{base}/").status_code == 403
    await poll(lambda: items(net.pending()))
    # The queue used as a list (SDK.md's `sandbox.network.pending()`): `len`, `[0]`, `not` in the
    # sync client, where the pager fetches every page once; `await` gives the list in the async one.
    listed = await aw(net.pending())
    assert len(listed) == 1 and listed[0].host == "allowed.test" and listed
    assert (await aw(listed[0].block(**w))).rule.host == "allowed.test"
    assert not await aw(net.pending()) and await aw(net.pending()) == []
    assert proxied(sbx, f"http://files.pypi.test{base}/").status_code == 403
    [entry] = await poll(lambda: items(net.pending()))
    assert (await aw(net.allow_pending(entry.id, scope="sandbox", **w))).rule.host == "files.pypi.test"

    suggestions = await aw(net.suggestions(since="7d"))
    assert isinstance(suggestions, portcullis.Suggestions) and suggestions.since == "7d"
    assert "api.openai.test" in {s.host for s in suggestions.items}
    observed = await aw(net.observe(**w))
    assert observed.mode == "audit" and observed.allow_rules
    locked = await aw(net.lockdown(hosts=["allowed.test"], **w))
    assert locked.mode == "allowlist" and "allowed.test" in {r.host for r in locked.allow_rules}
    cleared = await aw(net.clear_rules(**w))
    assert cleared.allow_rules == [] and cleared.deny_rules == [] and cleared.mode == "allowlist"

    # Export and import: a policy read with GET is sent back as it is.
    await aw(net.allow("api.openai.test", methods=["GET"], **w))
    exported = await aw(net.get_policy())
    other = await aw(client.sandboxes.create(**w))
    copied = await aw(other.network.replace_policy(exported, **w))
    assert copied.mode == "allowlist" and [(r.host, r.methods) for r in copied.allow_rules] == [("api.openai.test", ["GET"])]

    # Credentials: the value goes in and never comes back; the sandbox gets a placeholder.
    secret, rotated = f"sk-{name}-first-secret", f"sk-{name}-second-secret"
    cred = await aw(client.credentials.create(name="openai", value=secret, binding={"host": "api.openai.test"},
                                              placement={"kind": "header", "name": "Authorization", "format": "Bearer {secret}"}, **w))
    assert isinstance(cred, portcullis.Credential) and cred.id.startswith("cred_") and cred.name == "openai"
    assert (cred.binding.host, cred.binding.port, cred.binding.methods, cred.binding.path_prefix) == ("api.openai.test", 443, None, None)
    assert (cred.placement.kind, cred.placement.format, cred.require, cred.rotated_at) == ("header", "Bearer {secret}", False, None)
    assert [c.name for c in await aw(client.credentials.list())] == ["openai"]
    assert (await aw(client.credentials.get("openai"))).id == cred.id
    attached = await aw(net.credentials.attach("openai", **w))
    assert isinstance(attached, portcullis.AttachedCredential) and re.fullmatch(r"pcx_[a-z2-7]{32}", attached.placeholder)
    assert (await aw(net.credentials.attach("openai", **w))).placeholder == attached.placeholder, "attaching again: the same one"
    assert [(a.name, a.placeholder) for a in await aw(net.credentials.list())] == [("openai", attached.placeholder)]
    changed = await aw(client.credentials.update("openai", value=rotated, **w))
    assert changed.rotated_at is not None and changed.binding == cred.binding and changed.placement == cred.placement
    changed = await aw(client.credentials.update("openai", require=True, binding={"host": "api.openai.test", "path_prefix": "/v1"}, **w))
    assert changed.require and changed.binding.path_prefix == "/v1" and changed.placement == cred.placement
    assert [a.placeholder for a in await aw(net.credentials.list())] == [attached.placeholder], "kept across rotations"
    answers = [cred, changed, *await aw(client.credentials.list()), *await aw(net.credentials.list())]
    assert not [a for a in answers if secret in repr(a) + json.dumps(a.to_dict()) or rotated in repr(a) + json.dumps(a.to_dict())]
    await aw(net.credentials.detach("openai", **w))
    assert await aw(net.credentials.list()) == []
    await aw(client.credentials.delete("openai", **w))
    with pytest.raises(portcullis.NotFoundError):
        await aw(client.credentials.get("openai"))

    # Profiles.
    profiles = await aw(client.profiles.list())
    assert any(p.builtin and p.name == "default-package-managers" for p in profiles)
    assert (await aw(client.profiles.get("pypi"))).builtin
    mine = await aw(client.profiles.create("internal", rules=[{"action": "allow", "host": "allowed.test"}], description="ours", **w))
    assert mine.hosts == ["allowed.test"] and not mine.builtin
    mine = await aw(client.profiles.replace("internal", rules=[{"action": "allow", "host": "other.test"}], **w))
    assert mine.hosts == ["other.test"]
    await aw(client.profiles.delete("internal", **w))

    # Templates, and a sandbox created from one.
    tpl = await aw(client.templates.create("locked", exported))
    assert tpl.mode == "allowlist" and [r.host for r in tpl.allow_rules] == ["api.openai.test"]
    assert [x.name for x in await aw(client.templates.list())] == ["locked"]
    tpl = await aw(client.templates.replace("locked", tpl, mode="denylist", deny_rules=[{"host": "denied.test"}]))
    assert tpl.mode == "denylist" and [r.host for r in tpl.deny_rules] == ["denied.test"]
    assert (await aw(client.templates.get("locked"))).mode == "denylist"
    from_tpl = await aw(client.sandboxes.create(template="locked", **w))
    assert from_tpl.mode == "denylist"
    await aw(client.templates.delete("locked"))

    # Tenant-wide.
    trule = await aw(client.network.allow("allowed.test", **w))
    assert trule.source == "tenant"
    tdeny = await aw(client.network.deny("denied.test", **w))
    tp = await aw(client.network.get_policy())
    assert [r.host for r in tp.allow_rules] == ["allowed.test"] and [r.host for r in tp.deny_rules] == ["denied.test"]
    await aw(client.network.remove_rule(tdeny.id, **w))
    assert (await aw(client.network.lockdown(**w))).default_mode == "allowlist"
    assert (await aw(client.network.observe(**w))).default_mode == "audit"
    tp = await aw(client.network.replace_policy(tp, default_mode="audit", deny_rules=[], **w))
    assert [r.host for r in tp.allow_rules] == ["allowed.test"] and tp.deny_rules == []

    # The MIOSA compatibility API.
    cp = await aw(client.network_policy.update(other.id, mode="allowlist", rules=[{"host": "github.test", "port": 443, "protocol": "tcp"}], **w))
    assert isinstance(cp, portcullis.ComputerPolicy) and cp.computer_id == other.id and cp.mode == "allowlist"
    assert [(r.host, r.port, r.protocol) for r in cp.rules] == [("github.test", 443, "tcp")]
    assert (await aw(client.network_policy.get(other.id))).rules[0].host == "github.test"
    reset = await aw(client.network_policy.delete(other.id, **w))
    assert isinstance(reset, portcullis.ComputerReset) and reset.mode == "audit"

    # Audit: paged, exported, live (tenant-wide stream).
    rejects = await items(client.audit.list(sandbox=sbx.id, action="reject"))
    assert rejects and all(e.action == "reject" for e in rejects)
    exported_entries = await items(client.audit.export(sandbox=sbx.id))
    assert {e.id for e in rejects} <= {e.id for e in exported_entries}
    stream = client.audit.stream(action="allow")
    await aw(stream.open())
    try:
        assert proxied(other, f"http://allowed.test{base}/").status_code == 200
        live = await next_event(stream)
        assert (live.host, live.sandbox_id) == ("allowed.test", other.id)
    finally:
        await close(stream)

    for s in (sbx, other, from_tpl):
        await aw(s.destroy(**w))
    with pytest.raises(portcullis.NotFoundError):
        await aw(client.sandboxes.get(sbx.id))


async def _when(coroutine, predicate):
    value = await coroutine
    return value if predicate(value) else None


def test_every_operation_with_the_sync_client(gateway, upstream, tenant):
    recorder = Recorder(versions=(gateway.api, gateway.admin))
    admin, admin_http = recorder.sync_client(gateway, gateway.admin)
    client, http = recorder.sync_client(gateway, tenant.api_key)
    with admin_http, http, admin, client:
        asyncio.run(tour(admin, client, gateway, upstream, "tour-sync", wait="fleet"))
    assert recorder.all_operations() - recorder.seen == set()
    # wait="fleet" reached the API on every policy-changing operation, and those are exactly
    # the operations that raised serve's policy version (each at least once; one that changes
    # nothing, such as attaching a credential again, may leave it).
    fleet_wait = {i for i, op in OPERATIONS.items() if op.fleet_wait}
    assert recorder.waited == fleet_wait
    assert recorder.raised == fleet_wait, f"raised the version: {sorted(recorder.raised)}"
    writes = {i for i, op in OPERATIONS.items() if op.method != "GET"}
    assert writes - fleet_wait <= recorder.kept, "every other write was seen keeping it (a repeated attach may too)"


def test_every_operation_with_the_async_client(gateway, upstream, tenant):
    recorder = Recorder()

    async def run():
        admin, admin_http = recorder.async_client(gateway, gateway.admin)
        client, http = recorder.async_client(gateway, tenant.api_key)
        async with admin_http, http, admin, client:
            await tour(admin, client, gateway, upstream, "tour-async")

    asyncio.run(run())
    assert recorder.all_operations() - recorder.seen == set()
