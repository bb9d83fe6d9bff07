"""Profiles (named groups of rules) and templates (stored policies)."""
from typing import Any, List, Optional, Union

from .._base import NOT_GIVEN, Wait, compact, given, operation, policy_body
from .._models import ExportedPolicyParam, ModeInput, Profile, SandboxPolicy, Template


class AsyncProfiles:
    """`client.profiles`: built-in profiles (read-only) and the tenant's own."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @operation("listProfiles")
    async def list(self) -> List[Profile]:
        """Every profile the tenant can attach, built-ins first, then by name."""
        return await self._client._items("listProfiles", Profile.from_dict)

    @operation("getProfile")
    async def get(self, name: str) -> Profile:
        return Profile.from_dict(await self._client._json("getProfile", (name,)))

    @operation("createProfile")
    async def create(self, name: str, *, rules: List[Any], description: Optional[str] = None, wait: Wait = None) -> Profile:
        """A tenant profile; each rule needs an `action` (`{"action": "allow", "host": ...}`)."""
        body = {"rules": rules, **compact(description=description)}
        return Profile.from_dict(await self._client._json("createProfile", (name,), body=body, wait=wait))

    @operation("replaceProfile")
    async def replace(self, name: str, *, rules: List[Any], description: Optional[str] = None, wait: Wait = None) -> Profile:
        """Replaces a tenant profile's rules and description; attached sandboxes follow at once."""
        body = {"rules": rules, **compact(description=description)}
        return Profile.from_dict(await self._client._json("replaceProfile", (name,), body=body, wait=wait))

    @operation("deleteProfile")
    async def delete(self, name: str, *, wait: Wait = None) -> None:
        await self._client._send("deleteProfile", (name,), wait=wait)


class AsyncTemplates:
    """`client.templates`: stored policies that new sandboxes copy (`sandboxes.create(template=...)`)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @operation("listTemplates")
    async def list(self) -> List[Template]:
        return await self._client._items("listTemplates", Template.from_dict)

    @operation("getTemplate")
    async def get(self, name: str) -> Template:
        return Template.from_dict(await self._client._json("getTemplate", (name,)))

    @operation("createTemplate")
    async def create(self, name: str, policy: Union[SandboxPolicy, Template, ExportedPolicyParam, None] = None, *,
                     mode: ModeInput = NOT_GIVEN, allow_rules: Optional[List[Any]] = NOT_GIVEN,
                     deny_rules: Optional[List[Any]] = NOT_GIVEN, profiles: Optional[List[str]] = NOT_GIVEN) -> Template:
        """Stores a policy under `name`: an exported one (`sandbox.network.get_policy()`), and/or fields."""
        fields = given(mode=mode, allow_rules=allow_rules, deny_rules=deny_rules, profiles=profiles)
        return Template.from_dict(await self._client._json("createTemplate", body={**policy_body(policy, fields), "name": name}))

    @operation("replaceTemplate")
    async def replace(self, name: str, policy: Union[SandboxPolicy, Template, ExportedPolicyParam, None] = None, *,
                      mode: ModeInput = NOT_GIVEN, allow_rules: Optional[List[Any]] = NOT_GIVEN,
                      deny_rules: Optional[List[Any]] = NOT_GIVEN, profiles: Optional[List[str]] = NOT_GIVEN) -> Template:
        """Replaces a template's policy; sandboxes created from it keep their copy."""
        fields = given(mode=mode, allow_rules=allow_rules, deny_rules=deny_rules, profiles=profiles)
        return Template.from_dict(await self._client._json("replaceTemplate", (name,), body={**policy_body(policy, fields), "name": name}))

    @operation("deleteTemplate")
    async def delete(self, name: str) -> None:
        await self._client._send("deleteTemplate", (name,))
