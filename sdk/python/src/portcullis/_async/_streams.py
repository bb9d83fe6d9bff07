"""Endless and long answers read as they come: the live log (Server-Sent Events) and the
audit export (JSON lines)."""
import json
from types import TracebackType
from typing import Any, AsyncIterator, Callable, Dict, Generic, Mapping, Optional, Type, TypeVar, Union

import httpx

from .._base import NDJSONDecoder, SSEDecoder
from .._errors import APIConnectionError, APITimeoutError, status_error
from .._operations import OPERATIONS

T = TypeVar("T")


class AsyncEventStream(Generic[T]):
    """Entries as the API writes them; iterate with `async for`.

    The request is sent when the stream is opened: by `async with` (so entries written
    after that line are seen) or by the first iteration. Leaving the `async with` block,
    `aclose()`, or the API closing the stream ends it. The live log never ends by itself;
    a connection silent for longer than the keep-alive allows raises APITimeoutError.
    """

    def __init__(self, client: Any, operation_id: str, query: Mapping[str, Any], parse: Callable[[Dict[str, Any]], T]) -> None:
        self._client = client
        self._operation_id = operation_id
        self._query = query
        self._parse = parse
        self._response: Optional[httpx.Response] = None
        self._lines: Optional[AsyncIterator[str]] = None
        self._decoder: Union[SSEDecoder, NDJSONDecoder] = SSEDecoder() if OPERATIONS[operation_id].kind == "sse" else NDJSONDecoder()
        self._closed = False

    async def open(self) -> "AsyncEventStream[T]":
        """Sends the request and waits for the answer's head (once)."""
        if self._response is not None or self._closed:
            return self
        request = self._client._request(self._operation_id, (), self._query, stream=True)
        try:
            response = await self._client._http.send(request, stream=True)
        except httpx.TimeoutException as e:
            raise APITimeoutError(request=request) from e
        except httpx.RequestError as e:
            raise APIConnectionError(f"could not reach the Portcullis API at {self._client.base_url}: {e}", request=request) from e
        if response.status_code >= 400:
            await response.aread()
            await response.aclose()
            raise status_error(response)
        self._response = response
        self._lines = response.aiter_lines()
        return self

    async def aclose(self) -> None:
        """Ends the stream and releases its connection."""
        self._closed = True
        if self._response is not None:
            await self._response.aclose()

    async def __aenter__(self) -> "AsyncEventStream[T]":
        return await self.open()

    async def __aexit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                        tb: Optional[TracebackType]) -> None:
        await self.aclose()

    def __aiter__(self) -> "AsyncEventStream[T]":
        return self

    async def __anext__(self) -> T:
        await self.open()
        if self._lines is None or self._closed:
            raise StopAsyncIteration
        while True:
            try:
                line = await self._lines.__anext__()
            except StopAsyncIteration:
                await self.aclose()
                raise
            except httpx.TimeoutException as e:
                await self.aclose()
                raise APITimeoutError("the Portcullis API stream went silent") from e
            except httpx.RequestError as e:
                await self.aclose()
                raise APIConnectionError(f"the Portcullis API stream broke: {e}") from e
            data = self._decoder.feed(line)
            if data is not None:
                return self._parse(json.loads(data))
