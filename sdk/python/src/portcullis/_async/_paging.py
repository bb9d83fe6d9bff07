"""Lists that fetch their pages as you iterate (`for e in client.audit.list(...)`)."""
from typing import Any, AsyncIterator, Callable, List, Optional, TypeVar

from .._base import Page
from .._lists import AsyncListView

T = TypeVar("T")


class AsyncPager(AsyncListView[T]):
    """Iterates over every item of a paged list, fetching the next page when one runs out.

    Nothing is fetched until you use it. A `for` loop fetches page by page, from the first,
    each time. Used as a list (`to_list()`, and in the sync client `len()`, `[i]`, `[a:b]`,
    `bool()`, `==`; in the async one `await pager`) it fetches every page once and keeps
    the items: later list uses and loops read that copy, and memory holds all of it, so
    iterate a long list (the audit log) instead. `pages()` iterates over whole pages
    (`page.items`, `page.next_cursor`), always fetching.
    """

    def __init__(self, fetch: Callable[[Optional[str]], Any]) -> None:
        self._fetch = fetch
        self._all: Optional[List[T]] = None

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    async def _items(self) -> AsyncIterator[T]:
        if self._all is not None:
            for item in list(self._all):
                yield item
            return
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

    async def to_list(self) -> List[T]:
        """Every item, as a new list (every page is fetched the first time, then kept)."""
        return list(await self._cached())

    async def _cached(self) -> List[T]:
        if self._all is None:
            items: List[T] = []
            async for page in self.pages():
                items.extend(page.items)
            self._all = items
        return self._all
