"""The one small async protocol every store driver implements.

Drivers translate their SDK's errors into ``glimpse.errors.StoreError`` at their own edge. Blocking SDK
calls run in worker threads. Data is passed as an async iterator of blocks; nothing here holds a whole
image in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

Block = bytes | bytearray | memoryview


@dataclass(frozen=True, slots=True)
class StoredObject:
    url: str
    size: int


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

    def details(self) -> dict[str, object]:
        """Driver properties shown to service users in /v2/info/stores/detail."""
        ...
