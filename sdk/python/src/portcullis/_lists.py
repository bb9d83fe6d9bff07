"""What a pager does when used as a list: the sync `Pager` answers `len()`, `[i]`, `[a:b]`,
`bool()` and `==` (SDK.md: `sandbox.network.pending()` is used as a list as well as
iterated); the async one is awaited for the list (`await sandbox.network.pending()`)."""
from typing import Any, Generator, Generic, List, Sequence, TypeVar, Union, overload

T = TypeVar("T")


class ListView(Sequence[T]):
    """List-like use of a sync pager. The first one fetches every page once and keeps the
    items (so `len()` and `[i]` of a long audit log hold all of it in memory: iterate that
    instead); later uses, and later `for` loops, read that copy."""

    def to_list(self) -> List[T]:  # pragma: no cover - the pager defines it
        raise NotImplementedError

    def _cached(self) -> List[T]:  # pragma: no cover - the pager defines it
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._cached())

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> List[T]: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[T, List[T]]:
        return self._cached()[index]

    def __bool__(self) -> bool:
        return bool(self._cached())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ListView):
            return self._cached() == other._cached()
        if isinstance(other, (list, tuple)):
            return self._cached() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]



class AsyncListView(Generic[T]):
    """`await pager` gives every item as a list (every page fetched once and kept)."""

    async def to_list(self) -> List[T]:  # pragma: no cover - the pager defines it
        raise NotImplementedError

    def __await__(self) -> Generator[Any, None, List[T]]:
        return self.to_list().__await__()
