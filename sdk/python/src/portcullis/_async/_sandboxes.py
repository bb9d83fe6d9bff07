"""Sandboxes, and the network controls of one sandbox (`sandbox.network`)."""
from typing import Any, Dict, List, Optional, Union

from .._base import NOT_GIVEN, Wait, bind, bound_client, compact, given, operation, policy_body
from .._models import (Explanation, ExportedPolicyParam, ModeInput, PendingData, PendingResolved, Rule,
                       RuleProtocol, SandboxData, SandboxNetworkParam, SandboxPolicy, Suggestions, Template)
from ._audit import AsyncLogStream
from ._credentials import AsyncSandboxCredentials
from ._paging import AsyncPager
from ._rules import allow_body, deny_body


class AsyncSandbox(SandboxData):
    """A sandbox as the API answered it, with `.network` (its controls) and `destroy()`."""

    @property
    def network(self) -> "AsyncSandboxNetwork":
        """This sandbox's network controls: allow, deny, lockdown, observe, pending, log, ..."""
        return AsyncSandboxNetwork(bound_client(self), self.id)

    async def destroy(self, *, wait: Wait = None) -> None:
        """Deletes the sandbox; its proxy credential stops working at once."""
        await bound_client(self).sandboxes.delete(self.id, wait=wait)


class AsyncPending(PendingData):
    """A pending entry (a host rejected for want of a rule), with one-click `allow()` and `block()`."""

    async def allow(self, *, scope: Optional[str] = None, wait: Wait = None) -> PendingResolved:
        """Adds an exact allow rule for this host and port (`scope="tenant"`: tenant-wide) and removes the entry."""
        return await self._network().allow_pending(self.id, scope=scope, wait=wait)

    async def block(self, *, scope: Optional[str] = None, wait: Wait = None) -> PendingResolved:
        """Adds an exact deny rule for this host and port (`scope="tenant"`: tenant-wide) and removes the entry."""
        return await self._network().block_pending(self.id, scope=scope, wait=wait)

    def _network(self) -> "AsyncSandboxNetwork":
        return AsyncSandboxNetwork(bound_client(self), getattr(self, "_sandbox_id"))


class AsyncSandboxes:
    """`client.sandboxes`."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def _bind(self, data: Dict[str, Any]) -> AsyncSandbox:
        return bind(AsyncSandbox.from_dict(data), self._client)

    @operation("createSandbox")
    async def create(self, *, name: Optional[str] = None, template: Optional[str] = None, clone_from: Optional[str] = None,
                     network: Optional[SandboxNetworkParam] = None, network_profile: Optional[str] = None,
                     profiles: Optional[List[str]] = None, mode: ModeInput = None,
                     source_addresses: Optional[List[str]] = None, wait: Wait = None) -> AsyncSandbox:
        """Creates a sandbox. `template` or `clone_from` is copied first; `network={"allow": [...],
        "deny": [...]}`, `network_profile`, `profiles` and `mode` apply on top. The answer's
        `proxy` holds the settings its traffic uses. With `wait="fleet"`, a FleetLaggingError
        (nodes slower than 5 s) carries no sandbox: the API's 202 does not say its id."""
        body = compact(name=name, template=template, clone_from=clone_from, network=network,
                       network_profile=network_profile, profiles=profiles, mode=mode, source_addresses=source_addresses)
        return self._bind(await self._client._json("createSandbox", body=body, wait=wait))

    @operation("getSandbox")
    async def get(self, sandbox_id: str) -> AsyncSandbox:
        return self._bind(await self._client._json("getSandbox", (sandbox_id,)))

    @operation("listSandboxes")
    def list(self, *, limit: Optional[int] = None) -> AsyncPager[AsyncSandbox]:
        """Every sandbox of the tenant, newest first; pages are fetched as you iterate."""
        return self._client._pager("listSandboxes", (), {"limit": limit}, self._bind)

    @operation("updateSandbox")
    async def update(self, sandbox_id: str, *, name: Optional[str] = NOT_GIVEN,
                     source_addresses: List[str] = NOT_GIVEN, wait: Wait = None) -> AsyncSandbox:
        """Changes only what is given; `name=None` removes the name."""
        body = given(name=name, source_addresses=source_addresses)
        return self._bind(await self._client._json("updateSandbox", (sandbox_id,), body=body, wait=wait))

    @operation("deleteSandbox")
    async def delete(self, sandbox_id: str, *, wait: Wait = None) -> None:
        await self._client._send("deleteSandbox", (sandbox_id,), wait=wait)

    @operation("getSandboxCA")
    async def ca_pem(self, sandbox_id: str) -> str:
        """The sandbox's CA certificate (PEM): what its clients trust, besides the system's roots,
        for the HTTPS connections the gateway terminates."""
        return (await self._client._send("getSandboxCA", (sandbox_id,))).text

    def network(self, sandbox_id: str) -> "AsyncSandboxNetwork":
        """The network controls of a sandbox known by id, without reading it first."""
        return AsyncSandboxNetwork(self._client, sandbox_id)


class AsyncSandboxNetwork:
    """One sandbox's policy: rules, mode, profiles, pending queue, suggestions, explain, live log."""

    def __init__(self, client: Any, sandbox_id: str) -> None:
        self._client = client
        self.sandbox_id = sandbox_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.sandbox_id!r})"

    def _id(self) -> tuple:
        return (self.sandbox_id,)

    @property
    def credentials(self) -> AsyncSandboxCredentials:
        """The credentials attached to this sandbox: `attach(name)` (the placeholder), `list()`, `detach(name)`."""
        return AsyncSandboxCredentials(self._client, self.sandbox_id)

    @operation("addSandboxRule")
    async def allow(self, host: str, *, port: Optional[int] = None, protocol: Optional[RuleProtocol] = None,
                    methods: Optional[List[str]] = None, paths: Optional[List[str]] = None,
                    warn_only: Optional[bool] = None, note: Optional[str] = None,
                    inspect: Optional[bool] = None, wait: Wait = None) -> Rule:
        """Allows `host` (exact, `*.` wildcard, IP or CIDR) for this sandbox; `warn_only=True` lets it
        through in allowlist mode but logs it as `warn`; `inspect=True`/`False` has the gateway
        terminate its TLS always/never (left out: when `methods`, `paths` or a credential need it)."""
        body = allow_body(host, port, protocol, methods, paths, warn_only, note, inspect)
        return Rule.from_dict(await self._client._json("addSandboxRule", self._id(), body=body, wait=wait))

    @operation("addSandboxRule")
    async def deny(self, host: str, *, port: Optional[int] = None, protocol: Optional[RuleProtocol] = None,
                   except_: Optional[List[str]] = None, note: Optional[str] = None, wait: Wait = None) -> Rule:
        """Denies `host` for this sandbox (deny always wins); `except_` carves out hosts it does not cover."""
        body = deny_body(host, port, protocol, except_, note)
        return Rule.from_dict(await self._client._json("addSandboxRule", self._id(), body=body, wait=wait))

    @operation("deleteSandboxRule")
    async def remove_rule(self, rule_id: str, *, wait: Wait = None) -> None:
        """Removes one local rule (a tenant or profile rule answers ConflictError naming its source)."""
        await self._client._send("deleteSandboxRule", (self.sandbox_id, rule_id), wait=wait)

    @operation("clearSandboxRules")
    async def clear_rules(self, *, wait: Wait = None) -> SandboxPolicy:
        """Removes every local rule; mode and profiles are kept."""
        return SandboxPolicy.from_dict(await self._client._json("clearSandboxRules", self._id(), wait=wait))

    @operation("lockdownSandbox")
    async def lockdown(self, *, hosts: Optional[List[str]] = None, from_suggestions: Optional[str] = None,
                       wait: Wait = None) -> SandboxPolicy:
        """Switches to allowlist (enforce). `hosts` adds allow rules first; `from_suggestions="7d"`
        allows every host suggested in that window except those recommended `deny`."""
        body = compact(hosts=hosts, from_suggestions=from_suggestions)
        return SandboxPolicy.from_dict(await self._client._json("lockdownSandbox", self._id(), body=body or NOT_GIVEN, wait=wait))

    @operation("observeSandbox")
    async def observe(self, *, wait: Wait = None) -> SandboxPolicy:
        """Back to audit (observe): everything logged, nothing blocked; rules are kept."""
        return SandboxPolicy.from_dict(await self._client._json("observeSandbox", self._id(), wait=wait))

    @operation("getSandboxPolicy")
    async def get_policy(self) -> SandboxPolicy:
        """Mode, own mode, local allow and deny rules, profiles, and the effective policy."""
        return SandboxPolicy.from_dict(await self._client._json("getSandboxPolicy", self._id()))

    @operation("replaceSandboxPolicy")
    async def replace_policy(self, policy: Union[SandboxPolicy, Template, ExportedPolicyParam, None] = None, *,
                             mode: ModeInput = NOT_GIVEN, allow_rules: Optional[List[Any]] = NOT_GIVEN,
                             deny_rules: Optional[List[Any]] = NOT_GIVEN, profiles: Optional[List[str]] = NOT_GIVEN,
                             wait: Wait = None) -> SandboxPolicy:
        """Replaces own mode, local rules and profiles with an exported policy (one read with
        `get_policy()` from any sandbox, a template, or a dict); keywords override its fields.
        What is left out takes its empty value (PUT replaces)."""
        body = policy_body(policy, given(mode=mode, allow_rules=allow_rules, deny_rules=deny_rules, profiles=profiles))
        return SandboxPolicy.from_dict(await self._client._json("replaceSandboxPolicy", self._id(), body=body, wait=wait))

    @operation("attachProfile")
    async def attach_profile(self, name: str, *, wait: Wait = None) -> SandboxPolicy:
        return SandboxPolicy.from_dict(await self._client._json("attachProfile", (self.sandbox_id, name), wait=wait))

    @operation("detachProfile")
    async def detach_profile(self, name: str, *, wait: Wait = None) -> SandboxPolicy:
        return SandboxPolicy.from_dict(await self._client._json("detachProfile", (self.sandbox_id, name), wait=wait))

    @operation("getSuggestions")
    async def suggestions(self, *, since: Optional[str] = None) -> Suggestions:
        """Hosts contacted in the window (`since="7d"`), most used first, with recommendations."""
        return Suggestions.from_dict(await self._client._json("getSuggestions", self._id(), {"since": since}))

    @operation("listPending")
    def pending(self, *, limit: Optional[int] = None) -> AsyncPager[AsyncPending]:
        """The pending queue, most recently seen first; each entry has `.allow()` and `.block()`."""
        return self._client._pager("listPending", self._id(), {"limit": limit},
                                   lambda d: bind(AsyncPending.from_dict(d), self._client, _sandbox_id=self.sandbox_id))

    @operation("allowPending")
    async def allow_pending(self, pending_id: str, *, scope: Optional[str] = None, wait: Wait = None) -> PendingResolved:
        body = compact(scope=scope)
        return PendingResolved.from_dict(await self._client._json("allowPending", (self.sandbox_id, pending_id), body=body or NOT_GIVEN, wait=wait))

    @operation("blockPending")
    async def block_pending(self, pending_id: str, *, scope: Optional[str] = None, wait: Wait = None) -> PendingResolved:
        body = compact(scope=scope)
        return PendingResolved.from_dict(await self._client._json("blockPending", (self.sandbox_id, pending_id), body=body or NOT_GIVEN, wait=wait))

    @operation("explainDecision")
    async def explain(self, host: str, *, port: Optional[int] = None, protocol: Optional[str] = None,
                      method: Optional[str] = None, path: Optional[str] = None,
                      resolved: Union[str, List[str], None] = None) -> Explanation:
        """The decision the gateway would take now for `host` (nothing is logged or queued)."""
        body = {"host": host, **compact(port=port, protocol=protocol, method=method, path=path, resolved=resolved)}
        return Explanation.from_dict(await self._client._json("explainDecision", self._id(), body=body))

    def log(self, *, action: Optional[str] = None) -> AsyncLogStream:
        """The live log of this sandbox: audit entries as they are written (`action="reject"` filters)."""
        return self._client.audit.stream(sandbox=self.sandbox_id, action=action)

