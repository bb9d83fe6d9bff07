"""The client: settings, the HTTP connection pool, and one way to send an operation."""
from types import TracebackType
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Type, TypeVar

import httpx

from .._base import (NOT_GIVEN, STREAM_IDLE_SECONDS, Page, Readiness, Settings, Wait, encode_body, operation,
                     query_params, url_for, wait_param)
from .._errors import APIConnectionError, APITimeoutError, FleetLaggingError, status_error
from .._operations import OPERATIONS
from ._audit import AsyncAudit
from ._catalog import AsyncProfiles, AsyncTemplates
from ._credentials import AsyncCredentials
from ._nodes import AsyncNodes
from ._paging import AsyncPager
from ._sandboxes import AsyncSandboxes
from ._streams import AsyncEventStream
from ._tenant import AsyncNetworkPolicy, AsyncTenantNetwork, AsyncTenants

T = TypeVar("T")


class AsyncPortcullis:
    """A Portcullis API client.

    `base_url` defaults to `$PORTCULLIS_URL` (else http://127.0.0.1:8080), `api_key` to
    `$PORTCULLIS_TOKEN`; `timeout` is in seconds. Use it as a context manager, or call
    `aclose()`, to release its connections. `http_client` lets you pass your own httpx
    client (proxies, certificates, event hooks); the SDK then leaves closing it to you.
    """

    def __init__(self, base_url: Optional[str] = None, api_key: Optional[str] = None, timeout: float = 30,
                 *, http_client: Optional[httpx.AsyncClient] = None) -> None:
        self._settings = Settings.resolve(base_url, api_key, timeout)
        self._http = http_client if http_client is not None else httpx.AsyncClient(timeout=self._settings.timeout)
        self._owns_http = http_client is None
        #: Sandboxes: create, get, list, update, delete; each with `.network`.
        self.sandboxes = AsyncSandboxes(self)
        #: Tenant-wide rules and the tenant's default mode.
        self.network = AsyncTenantNetwork(self)
        #: The MIOSA computers network-policy API (a computer id is a sandbox id).
        self.network_policy = AsyncNetworkPolicy(self)
        self.profiles = AsyncProfiles(self)
        self.templates = AsyncTemplates(self)
        #: Tenants and their API keys (admin key only).
        self.tenants = AsyncTenants(self)
        #: The audit log: paged, live, exported.
        self.audit = AsyncAudit(self)
        #: Secrets sandboxes use through placeholders (values are never read back).
        self.credentials = AsyncCredentials(self)
        #: The gateway nodes sharing this database, with the policy version each applied (admin key only).
        self.nodes = AsyncNodes(self)

    @property
    def base_url(self) -> str:
        return self._settings.base_url

    @property
    def timeout(self) -> float:
        return self._settings.timeout

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    async def aclose(self) -> None:
        """Closes the connection pool (unless it was passed in as `http_client`)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> "AsyncPortcullis":
        return self

    async def __aexit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                        tb: Optional[TracebackType]) -> None:
        await self.aclose()

    # ------------------------------------------------------------ operations
    @operation("getHealth")
    async def health(self) -> str:
        """`/healthz`: `ok` while the gateway process runs."""
        return (await self._send("getHealth")).text.strip()

    @operation("getReadiness")
    async def readiness(self) -> Readiness:
        """`/readyz`: ready once the store and every listener are up (503 is an answer here, not an error)."""
        response = await self._send("getReadiness", accept=(200, 503))
        return Readiness(response.status_code == 200, response.text.strip())

    @operation("getMetrics")
    async def metrics(self) -> str:
        """`/metrics`: Prometheus text."""
        return (await self._send("getMetrics")).text

    # --------------------------------------------------------------- sending
    def _request(self, operation_id: str, path: Sequence[str] = (), query: Optional[Mapping[str, Any]] = None,
                 body: Any = NOT_GIVEN, stream: bool = False, wait: Wait = None) -> httpx.Request:
        op, url = url_for(self._settings, operation_id, path)
        params = {**query_params(op, query), **wait_param(operation_id, op, wait)}
        headers = self._settings.headers(op)
        content = encode_body(op, body)
        if content is not None:
            headers["Content-Type"] = "application/json"
        timeout = httpx.Timeout(self.timeout, read=max(self.timeout, STREAM_IDLE_SECONDS)) if stream else httpx.Timeout(self.timeout)
        return self._http.build_request(op.method, url, params=params, headers=headers,
                                        content=content, timeout=timeout)

    async def _send(self, operation_id: str, path: Sequence[str] = (), query: Optional[Mapping[str, Any]] = None,
                    body: Any = NOT_GIVEN, accept: Tuple[int, ...] = (), wait: Wait = None) -> httpx.Response:
        """Sends one operation; answers with an error status raise the matching APIStatusError,
        and the 202 of `wait="fleet"` raises FleetLaggingError."""
        request = self._request(operation_id, path, query, body, wait=wait)
        try:
            response = await self._http.send(request)
        except httpx.TimeoutException as e:
            raise APITimeoutError(request=request) from e
        except httpx.RequestError as e:
            raise APIConnectionError(f"could not reach the Portcullis API at {self.base_url}: {e}", request=request) from e
        if response.status_code >= 400 and response.status_code not in accept:
            raise status_error(response)
        if wait is not None and response.status_code == 202:
            raise FleetLaggingError.from_response(response)
        return response

    async def _json(self, operation_id: str, path: Sequence[str] = (), query: Optional[Mapping[str, Any]] = None,
                    body: Any = NOT_GIVEN, wait: Wait = None) -> Dict[str, Any]:
        data = (await self._send(operation_id, path, query, body, wait=wait)).json()
        return data["data"] if OPERATIONS[operation_id].kind == "data" else data

    def _pager(self, operation_id: str, path: Sequence[str], query: Mapping[str, Any],
               parse: Callable[[Dict[str, Any]], T]) -> AsyncPager[T]:
        async def fetch(cursor: Optional[str]) -> Page[T]:
            data = await self._json(operation_id, path, {**query, "cursor": cursor})
            return Page([parse(x) for x in data["items"]], data.get("next_cursor"))
        return AsyncPager(fetch)

    async def _items(self, operation_id: str, parse: Callable[[Dict[str, Any]], T]) -> List[T]:
        return [parse(x) for x in (await self._json(operation_id))["items"]]

    def _events(self, operation_id: str, query: Mapping[str, Any], parse: Callable[[Dict[str, Any]], T]) -> AsyncEventStream[T]:
        return AsyncEventStream(self, operation_id, query, parse)
