"""Lists that fetch their pages as you iterate (`for e in client.audit.list(...)`)."""
from typing import Any, AsyncIterator, Callable, Generic, Optional, TypeVar

from .._base import Page

T = TypeVar("T")


class AsyncPager(Generic[T]):
    """Iterates over every item of a paged list, fetching the next page when one runs out.

    Nothing is fetched until you iterate; each iteration starts from the first page.
    `pages()` iterates over whole pages instead (`page.items`, `page.next_cursor`).
    """

    def __init__(self, fetch: Callable[[Optional[str]], Any]) -> None:
        self._fetch = fetch

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    async def _items(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.items:
                yield item

    async def pages(self) -> AsyncIterator[Page[T]]:
        """Every page, from the first; the last one has `next_cursor` None."""
        cursor: Optional[str] = None
        while True:
            page = await self._fetch(cursor)
            yield page
            if not page.next_cursor:
                return
            cursor = page.next_cursor
