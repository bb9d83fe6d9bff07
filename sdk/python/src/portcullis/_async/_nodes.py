"""The gateway nodes of a fleet (FLEET.md)."""
from typing import Any

from .._base import operation
from .._fleet import Fleet
from .._models import Node


class AsyncNodes:
    """`client.nodes` (admin key only): the `serve` nodes sharing this database."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @operation("listNodes")
    async def list(self) -> Fleet:
        """Every node with its `state` (`up`, `syncing`, `down`), `applied_policy_version` and
        `lag`; the answer's `policy_version` is the newest in the database. One node on SQLite
        lists itself."""
        data = await self._client._json("listNodes")
        return Fleet([Node.from_dict(x) for x in data["items"]], policy_version=data["policy_version"])
