"""Tenant-wide network controls, the MIOSA compatibility API, and tenants (admin)."""
from typing import Any, List, Optional, Union

from .._base import NOT_GIVEN, Wait, compact, given, operation, policy_body
from .._models import (ApiKeyCreated, ComputerPolicy, ComputerReset, ComputerRuleParam, Mode, ModeInput, Rule,
                       RuleProtocol, Tenant, TenantCreated, TenantPolicy, TenantPolicyInputParam)
from ._paging import AsyncPager
from ._rules import allow_body, deny_body


class AsyncTenantNetwork:
    """`client.network`: rules for every sandbox of the tenant, and the tenant's default mode
    (sandboxes without their own mode follow it)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @operation("addTenantRule")
    async def allow(self, host: str, *, port: Optional[int] = None, protocol: Optional[RuleProtocol] = None,
                    methods: Optional[List[str]] = None, paths: Optional[List[str]] = None,
                    warn_only: Optional[bool] = None, note: Optional[str] = None,
                    inspect: Optional[bool] = None, wait: Wait = None) -> Rule:
        """Allows `host` for every sandbox of the tenant."""
        body = allow_body(host, port, protocol, methods, paths, warn_only, note, inspect)
        return Rule.from_dict(await self._client._json("addTenantRule", body=body, wait=wait))

    @operation("addTenantRule")
    async def deny(self, host: str, *, port: Optional[int] = None, protocol: Optional[RuleProtocol] = None,
                   except_: Optional[List[str]] = None, note: Optional[str] = None, wait: Wait = None) -> Rule:
        """Denies `host` for every sandbox of the tenant."""
        body = deny_body(host, port, protocol, except_, note)
        return Rule.from_dict(await self._client._json("addTenantRule", body=body, wait=wait))

    @operation("deleteTenantRule")
    async def remove_rule(self, rule_id: str, *, wait: Wait = None) -> None:
        await self._client._send("deleteTenantRule", (rule_id,), wait=wait)

    @operation("lockdownTenant")
    async def lockdown(self, *, wait: Wait = None) -> TenantPolicy:
        """The tenant's default mode to allowlist (enforce)."""
        return TenantPolicy.from_dict(await self._client._json("lockdownTenant", wait=wait))

    @operation("observeTenant")
    async def observe(self, *, wait: Wait = None) -> TenantPolicy:
        """The tenant's default mode back to audit; rules are kept."""
        return TenantPolicy.from_dict(await self._client._json("observeTenant", wait=wait))

    @operation("getTenantPolicy")
    async def get_policy(self) -> TenantPolicy:
        return TenantPolicy.from_dict(await self._client._json("getTenantPolicy"))

    @operation("replaceTenantPolicy")
    async def replace_policy(self, policy: Union[TenantPolicy, TenantPolicyInputParam, None] = None, *,
                             default_mode: ModeInput = NOT_GIVEN, default_profiles: Optional[List[str]] = NOT_GIVEN,
                             allow_rules: Optional[List[Any]] = NOT_GIVEN, deny_rules: Optional[List[Any]] = NOT_GIVEN,
                             wait: Wait = None) -> TenantPolicy:
        """Replaces default mode, default profiles and tenant-wide rules (what is left out is emptied;
        `default_mode` left out is `audit`)."""
        fields = given(default_mode=default_mode, default_profiles=default_profiles, allow_rules=allow_rules, deny_rules=deny_rules)
        return TenantPolicy.from_dict(await self._client._json("replaceTenantPolicy", body=policy_body(policy, fields), wait=wait))


class AsyncNetworkPolicy:
    """`client.network_policy`: the MIOSA computers API (`/api/v1/computers/{id}/network-policy`)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @operation("getComputerNetworkPolicy")
    async def get(self, computer_id: str) -> ComputerPolicy:
        return ComputerPolicy.from_dict(await self._client._json("getComputerNetworkPolicy", (computer_id,)))

    @operation("setComputerNetworkPolicy")
    async def update(self, computer_id: str, *, mode: Mode, rules: Optional[List[ComputerRuleParam]] = None,
                     wait: Wait = None) -> ComputerPolicy:
        """Replaces the whole policy: `mode` and `rules` (`{"host", "port"?, "protocol"?}`)."""
        body = {"mode": mode, **compact(rules=rules)}
        return ComputerPolicy.from_dict(await self._client._json("setComputerNetworkPolicy", (computer_id,), body=body, wait=wait))

    @operation("resetComputerNetworkPolicy")
    async def delete(self, computer_id: str, *, wait: Wait = None) -> ComputerReset:
        """Back to the tenant's default mode; local rules are removed."""
        return ComputerReset.from_dict(await self._client._json("resetComputerNetworkPolicy", (computer_id,), wait=wait))


class AsyncTenants:
    """`client.tenants` (admin key only)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @operation("createTenant")
    async def create(self, name: str, *, wait: Wait = None) -> TenantCreated:
        """A tenant and its first API key (`api_key`, shown only in this answer)."""
        return TenantCreated.from_dict(await self._client._json("createTenant", body={"name": name}, wait=wait))

    @operation("listTenants")
    def list(self, *, limit: Optional[int] = None) -> AsyncPager[Tenant]:
        return self._client._pager("listTenants", (), {"limit": limit}, Tenant.from_dict)

    @operation("createTenantKey")
    async def create_key(self, tenant_id: str) -> ApiKeyCreated:
        """Another API key for the tenant (shown only in this answer)."""
        return ApiKeyCreated.from_dict(await self._client._json("createTenantKey", (tenant_id,)))

    @operation("deleteTenantKey")
    async def revoke_key(self, tenant_id: str, key_id: str) -> None:
        """Revokes one API key at once."""
        await self._client._send("deleteTenantKey", (tenant_id, key_id))
