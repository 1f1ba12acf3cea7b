"""The one small async protocol every store driver implements.

Drivers translate their SDK's errors into ``glimpse.errors.StoreError`` at their own edge. Blocking SDK
calls run in worker threads. Data is passed as an async iterator of blocks; nothing here holds a whole
image in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from glimpse.stores.region import FileRegion

Block = bytes | bytearray | memoryview
# driver types that serve data they never wrote and never take writes (Glance's http store)
READ_ONLY_TYPES = frozenset({"http"})


@dataclass(frozen=True, slots=True)
class StoredObject:
    url: str
    size: int


@dataclass(frozen=True, slots=True)
class ListedObject:
    """An object found in a store by ``list_objects``."""

    url: str
    size: int
    key: str  # the key it was (or is being) put under
    partial: bool = False  # the leftover (or the work in progress) of a write that has not completed
    attempt: bool = False  # one attempt's copy of ``key``'s data (``key`` then names the image: `written_for`)


ATTEMPT_MARK = ".attempt-"


def attempt_key(key: str, token: str) -> str:
    """The key one attempt at writing ``key``'s data puts it under. An import task's attempts each write under
    their own (``<image id>.attempt-<token>``), so an attempt that resumes after another finished the task can
    never replace, or remove, the data that one recorded: it can only leave its own copy, which nothing
    references."""
    return f"{key}{ATTEMPT_MARK}{token}"


def written_for(listed: ListedObject) -> ListedObject:
    """``listed`` with the key it was written for (an attempt's copy of ``<key>`` shows ``<key>``)."""
    base, mark, token = listed.key.partition(ATTEMPT_MARK)
    if not (base and mark and token):
        return listed
    return ListedObject(url=listed.url, size=listed.size, key=base, partial=listed.partial, attempt=True)


class Store(Protocol):
    id: str
    type: str
    description: str
    weight: int

    async def put(self, key: str, blocks: AsyncIterator[Block], size_hint: int | None = None) -> StoredObject:
        """Write all blocks under ``key``. On any failure nothing stays behind in the store."""
        ...

    def open(self, url: str, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """Stream ``length`` bytes (all when None) from ``start``."""
        ...

    async def delete(self, url: str) -> None:
        """Remove the object; a missing object is not an error."""
        ...

    async def stat(self, url: str) -> int | None:
        """The object's size, or None when it does not exist."""
        ...

    def list_objects(self) -> AsyncIterator[ListedObject]:
        """Every object in the store, unfinished writes included (for `glimpse fsck`)."""
        ...

    def owns(self, url: str) -> bool:
        """Whether ``url`` names data this store can serve (the locations API finds a location's store this way).

        Decided from the URL alone, with no I/O: its scheme and where it points must be this store's.
        """
        ...

    def details(self) -> dict[str, object]:
        """Driver properties shown to service users in /v2/info/stores/detail."""
        ...

    async def check(self) -> None:
        """Health probe for /healthcheck: return when the store can take writes, raise StoreError when not."""
        ...


@runtime_checkable
class RegionStore(Protocol):
    """A store whose objects are local files: it can hand out a byte range as an open file (sent with
    ``sendfile`` where the HTTP server can), not only as a stream of chunks."""

    def open_region(self, url: str, start: int = 0, length: int | None = None) -> FileRegion:
        """The range, as an open file; NotFound when the object is missing."""
        ...
