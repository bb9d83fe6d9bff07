"""The rule verbs that sandboxes and the tenant share: allow and deny."""
from typing import Any, Dict, List, Optional

from .._base import compact
from .._models import RuleProtocol


def allow_body(host: str, port: Optional[int], protocol: Optional[RuleProtocol], methods: Optional[List[str]],
               paths: Optional[List[str]], warn_only: Optional[bool], note: Optional[str],
               inspect: Optional[bool] = None) -> Dict[str, Any]:
    return {"action": "allow", "host": host,
            **compact(port=port, protocol=protocol, methods=methods, paths=paths, warn_only=warn_only, inspect=inspect,
                      note=note)}


def deny_body(host: str, port: Optional[int], protocol: Optional[RuleProtocol], except_: Optional[List[str]],
              note: Optional[str]) -> Dict[str, Any]:
    body = {"action": "deny", "host": host, **compact(port=port, protocol=protocol, note=note)}
    if except_ is not None:
        body["except"] = except_
    return body
