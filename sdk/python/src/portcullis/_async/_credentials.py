"""Credentials (INSPECTION.md): secrets a sandbox uses through a placeholder, never holding them."""
from typing import Any, List, Optional, Union

from .._base import NOT_GIVEN, Wait, compact, given, operation
from .._models import (AttachedCredential, Credential, CredentialBinding, CredentialBindingInputParam,
                       CredentialPlacement, CredentialPlacementInputParam)

Binding = Union[CredentialBindingInputParam, CredentialBinding]
Placement = Union[CredentialPlacementInputParam, CredentialPlacement]


class AsyncCredentials:
    """`client.credentials`: the tenant's credentials. A value goes in and is never shown again:
    no answer, list, log or `repr` carries it."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @operation("createCredential")
    async def create(self, name: str, *, value: str, binding: Binding, placement: Placement,
                     require: Optional[bool] = None, wait: Wait = None) -> Credential:
        """A credential named `name` (positional or `name=`, as for profiles and templates): `binding={"host": "api.openai.com", "port": 443, "methods": [...], "path_prefix": "/v1"}`
        (only `host` needed), `placement={"kind": "header", "name": "Authorization", "format": "Bearer {secret}"}`,
        `{"kind": "basic"}` or `{"kind": "query", "name": "key"}`; `require=True` refuses requests to the
        binding without the placeholder."""
        body = {"name": name, "value": value, "binding": binding, "placement": placement, **compact(require=require)}
        return Credential.from_dict(await self._client._json("createCredential", body=body, wait=wait))

    @operation("listCredentials")
    async def list(self) -> List[Credential]:
        """Every credential of the tenant, by name (never a value)."""
        return await self._client._items("listCredentials", Credential.from_dict)

    @operation("getCredential")
    async def get(self, name: str) -> Credential:
        return Credential.from_dict(await self._client._json("getCredential", (name,)))

    @operation("replaceCredential")
    async def replace(self, name: str, *, value: Optional[str] = NOT_GIVEN, binding: Binding = NOT_GIVEN,
                     placement: Placement = NOT_GIVEN, require: Optional[bool] = NOT_GIVEN,
                     wait: Wait = None) -> Credential:
        """Changes what is given: `value=` rotates the secret (placeholders stay; the next request of
        every sandbox uses it), `binding`, `placement`, `require`. The API replaces the whole
        credential, so when `binding`, `placement` or `require` is left out the SDK reads the
        credential first and sends its current ones (two calls, not one atomic change)."""
        fields = given(binding=binding, placement=placement, require=require)
        if len(fields) < 3:
            current = await self.get(name)
            fields = {"binding": current.binding, "placement": current.placement, "require": current.require, **fields}
        body = {"name": name, **fields, **given(value=value)}
        return Credential.from_dict(await self._client._json("replaceCredential", (name,), body=body, wait=wait))

    #: The same as `replace` (its first name).
    update = replace

    @operation("deleteCredential")
    async def delete(self, name: str, *, wait: Wait = None) -> None:
        """Deletes the credential; it is detached from every sandbox and their placeholders revoked."""
        await self._client._send("deleteCredential", (name,), wait=wait)

    @operation("attachCredential")
    async def attach(self, sandbox_id: str, name: str, *, wait: Wait = None) -> AttachedCredential:
        """Attaches credential `name` to sandbox `sandbox_id` (the CLI's `credential attach SANDBOX NAME`);
        the same as `client.sandboxes.network(sandbox_id).credentials.attach(name)`."""
        return await AsyncSandboxCredentials(self._client, sandbox_id).attach(name, wait=wait)

    @operation("detachCredential")
    async def detach(self, sandbox_id: str, name: str, *, wait: Wait = None) -> None:
        """Detaches credential `name` from sandbox `sandbox_id`; its placeholder is revoked at once."""
        await AsyncSandboxCredentials(self._client, sandbox_id).detach(name, wait=wait)

    @operation("listSandboxCredentials")
    async def list_attached(self, sandbox_id: str) -> List[AttachedCredential]:
        """The credentials attached to sandbox `sandbox_id`, with their placeholders."""
        return await AsyncSandboxCredentials(self._client, sandbox_id).list()


class AsyncSandboxCredentials:
    """`sandbox.network.credentials`: the credentials attached to one sandbox, each with the
    placeholder the sandbox uses in the secret's place."""

    def __init__(self, client: Any, sandbox_id: str) -> None:
        self._client = client
        self.sandbox_id = sandbox_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.sandbox_id!r})"

    @operation("attachCredential")
    async def attach(self, name: str, *, wait: Wait = None) -> AttachedCredential:
        """Attaches credential `name`; the answer's `placeholder` (`pcx_…`) is what the sandbox puts where
        the secret goes. Attaching again answers the same placeholder."""
        data = await self._client._json("attachCredential", (self.sandbox_id, name), wait=wait)
        return AttachedCredential.from_dict(data)

    @operation("listSandboxCredentials")
    async def list(self) -> List[AttachedCredential]:
        """The attached credentials with their placeholders, in attachment order."""
        data = await self._client._json("listSandboxCredentials", (self.sandbox_id,))
        return [AttachedCredential.from_dict(x) for x in data["items"]]

    @operation("detachCredential")
    async def detach(self, name: str, *, wait: Wait = None) -> None:
        """Detaches credential `name`; its placeholder is revoked at once."""
        await self._client._send("detachCredential", (self.sandbox_id, name), wait=wait)
