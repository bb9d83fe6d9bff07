"""The audit log: paged (`list`), live (`stream`), exported (`export`)."""
from datetime import datetime
from typing import Any, Optional, Union

from .._base import operation
from .._models import AuditAction, AuditEntry
from ._paging import AsyncPager
from ._streams import AsyncEventStream

AsyncLogStream = AsyncEventStream[AuditEntry]
Time = Union[str, datetime]


class AsyncAudit:
    """`client.audit`."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @operation("listAudit")
    def list(self, *, sandbox: Optional[str] = None, action: Optional[AuditAction] = None, host: Optional[str] = None,
             since: Optional[Time] = None, until: Optional[Time] = None, limit: Optional[int] = None) -> AsyncPager[AuditEntry]:
        """Entries, newest first, pages fetched as you iterate. `since` is a window (`"24h"`,
        `"7d"`) or a time; `until` a time (exclusive); `host` a pattern (`*.example.com`, a CIDR)."""
        query = {"sandbox": sandbox, "action": action, "host": host, "since": since, "until": until, "limit": limit}
        return self._client._pager("listAudit", (), query, AuditEntry.from_dict)

    @operation("streamAudit")
    def stream(self, *, sandbox: Optional[str] = None, action: Optional[AuditAction] = None) -> AsyncLogStream:
        """The live log: entries written after the stream opens, as they are written."""
        return self._client._events("streamAudit", {"sandbox": sandbox, "action": action}, AuditEntry.from_dict)

    @operation("exportAudit")
    def export(self, *, sandbox: Optional[str] = None, action: Optional[AuditAction] = None, host: Optional[str] = None,
               since: Optional[Time] = None, until: Optional[Time] = None) -> AsyncEventStream[AuditEntry]:
        """Every matching entry, oldest first, read as the API sends them (JSON lines)."""
        query = {"sandbox": sandbox, "action": action, "host": host, "since": since, "until": until}
        return self._client._events("exportAudit", query, AuditEntry.from_dict)
