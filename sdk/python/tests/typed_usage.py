"""SDK.md's Python, type-checked (tests/test_typing.py runs mypy on it; it is never run)."""
from portcullis import Portcullis, AsyncPortcullis, Pending, AsyncPending, Rule, SandboxPolicy, AuditEntry, Fleet, FleetLaggingError, Node
def sync_user(client: Portcullis) -> None:
    sandbox = client.sandboxes.create(network={"allow": ["a"], "deny": []})
    rule: Rule = sandbox.network.allow("x", warn_only=True)
    policy: SandboxPolicy = sandbox.network.get_policy()
    for r in policy.allow_rules:
        print(r.host, r.methods, r.warn_only)
    for e in client.audit.list(action="reject"):
        print(e.rejected_by)
    for event in sandbox.network.log():
        a: AuditEntry = event
    client.network_policy.update("sbx", mode="allowlist", rules=[{"host": "github.com", "port": 443, "protocol": "tcp"}])
    client.network_policy.update("sbx", mode="isolated")
    new_sandbox = client.sandboxes.create(template="python-ds")
    for rule in policy.allow_rules:
        new_sandbox.network.allow(rule.host, methods=rule.methods)
    for rule in policy.deny_rules:
        new_sandbox.network.deny(rule.host, except_=rule.except_)
    new_sandbox.network.lockdown(from_suggestions="7d")
    print(f"Policy cloned to {new_sandbox.id}.")
    for p in sandbox.network.pending():
        p.allow(scope="tenant")
    queue = sandbox.network.pending()
    if queue and len(queue) > 0:
        first: Pending = queue[0]
        rest: list[Pending] = queue[1:]
        first.block()
    assert not client.sandboxes.list() or client.sandboxes.list()[0].id
    fleet: Fleet = client.nodes.list()
    behind: list[Node] = [n for n in fleet if n.lag > 0 and n.state != "down"]
    print(fleet.policy_version, behind, fleet.lagging())
    try:
        client.sandboxes.create(network={"allow": ["pypi.org"]}, wait="fleet").network.lockdown(wait="fleet")
    except FleetLaggingError as e:
        print(e.policy_version, ", ".join(e.lagging))
async def async_user(client: AsyncPortcullis) -> None:
    sandbox = await client.sandboxes.create()
    rule: Rule = await sandbox.network.allow("x", warn_only=True)
    async for e in client.audit.list(action="reject"):
        print(e.host)
    async with sandbox.network.log() as log:
        async for event in log:
            print(event.host)
    async for p in sandbox.network.pending():
        await p.block()
    queued: list[AsyncPending] = await sandbox.network.pending()
    entries: list[AuditEntry] = await client.audit.list(action="reject")
    await sandbox.destroy(wait="fleet")
    async_fleet: Fleet = await client.nodes.list()
    await client.network.allow("registry.npmjs.org", wait="fleet")
