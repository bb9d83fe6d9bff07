"""The fleet (FLEET.md): what `client.nodes.list()` answers."""
from typing import Iterable, List

from ._models import Node


class Fleet(List[Node]):
    """Every gateway node sharing the database, by id: a list of `Node` (`.id`, `.state`,
    `.applied_policy_version`, `.lag`, ...), plus `policy_version`, the newest policy
    version in the database."""

    def __init__(self, nodes: Iterable[Node] = (), policy_version: int = 0) -> None:
        super().__init__(nodes)
        self.policy_version = policy_version

    def __repr__(self) -> str:
        return f"Fleet({list.__repr__(self)}, policy_version={self.policy_version})"

    def lagging(self) -> List[Node]:
        """The nodes that are not down and have not applied `policy_version` yet."""
        return [n for n in self if n.state != "down" and n.applied_policy_version < self.policy_version]
