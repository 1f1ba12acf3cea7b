"""An in-memory store: the unit-test double only, never configured by users."""

from __future__ import annotations

from collections.abc import AsyncIterator

from glimpse.errors import NotFound, StoreError
from glimpse.stores.base import Block, ListedObject, StoredObject


class MemoryStore:
    type = "memory"

    def __init__(self, store_id: str = "memory", *, description: str = "", weight: int = 0) -> None:
        self.id = store_id
        self.description = description
        self.weight = weight
        self.objects: dict[str, bytes] = {}
        self.failure: str | None = None  # tests set this to make check() fail

    held_blocks = 0  # each block is copied when it arrives (the data pipeline may reuse its buffer)

    async def put(self, key: str, blocks: AsyncIterator[Block], size_hint: int | None = None) -> StoredObject:
        parts = [bytes(block) async for block in blocks]
        url = f"memory://{self.id}/{key}"
        self.objects[url] = b"".join(parts)
        return StoredObject(url=url, size=len(self.objects[url]))

    async def open(self, url: str, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        if url not in self.objects:
            raise NotFound(f"Image data for {url} is missing from store {self.id}")
        data = self.objects[url]
        end = len(data) if length is None else start + length
        yield data[start:end]

    async def delete(self, url: str) -> None:
        self.objects.pop(url, None)

    async def stat(self, url: str) -> int | None:
        return len(self.objects[url]) if url in self.objects else None

    async def list_objects(self) -> AsyncIterator[ListedObject]:
        for url, data in sorted(self.objects.items()):
            yield ListedObject(url=url, size=len(data), key=url.rsplit("/", 1)[-1])

    def owns(self, url: str) -> bool:
        return url.startswith(f"memory://{self.id}/")

    def details(self) -> dict[str, object]:
        return {}

    async def check(self) -> None:
        if self.failure is not None:
            raise StoreError(f"Store {self.id} is unavailable: {self.failure}")
