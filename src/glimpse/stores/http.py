"""A read-only store of image data that lives on web servers (Glance's ``http`` store type).

Nothing is ever written here: an image gets an ``http(s)://`` location only through the locations API, and
its data stays where the web server keeps it. Deleting the image forgets the location and leaves the data
alone (there is nothing to delete it with). Reads go through an injected ``opener``: the container gives it
one built on ``services.fetch`` with web-download's filtering, so every read of a location (and every
redirect on the way) passes the same SSRF checks as a web-download import; a store does not import
services itself.

Ranges are served by reading from the start and discarding the first ``start`` bytes, then stopping after
``length`` bytes: web servers need not support ``Range``, and the opener does not send one. A ranged read
near the end of a large image therefore costs the transfer of everything before it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol
from urllib.parse import urlsplit

from glimpse.errors import NotFound, StorageWriteDenied, StoreError, StoreUnavailable
from glimpse.stores.base import Block, ListedObject, StoredObject

SCHEMES = ("http", "https")


class RemoteBody(Protocol):
    """The body of a GET: its chunks as they arrive, the announced ``Content-Length`` (None when not sent),
    and ``aclose`` to drop the connection early."""

    size: int | None

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


# GET the URL and return its body; NotFound when the server says 404/410, StoreError for other failures
Opener = Callable[[str], Awaitable[RemoteBody]]


class HttpStore:
    type = "http"

    def __init__(
        self,
        store_id: str,
        opener: Opener | None = None,
        *,
        description: str = "",
        weight: int = 0,
        chunk_size: int = 1 << 20,
    ) -> None:
        self.id = store_id
        self.description = description
        self.weight = weight
        self.chunk_size = chunk_size  # chunks come as the network delivers them; kept for the common options
        self.opener = opener

    def use_opener(self, opener: Opener) -> None:
        """Set how URLs are fetched (the container does this when it wires the services)."""
        self.opener = opener

    async def _get(self, url: str) -> RemoteBody:
        if self.opener is None:
            raise StoreUnavailable(f"Store {self.id} cannot fetch {url}: it was not given an HTTP client")
        return await self.opener(url)

    def owns(self, url: str) -> bool:
        try:
            parts = urlsplit(url)
        except ValueError:
            return False
        return parts.scheme.lower() in SCHEMES and bool(parts.hostname)

    async def put(self, key: str, blocks: AsyncIterator[Block], size_hint: int | None = None) -> StoredObject:
        raise StorageWriteDenied(f"Store {self.id} is read-only: http stores only serve data added as locations")

    async def open(self, url: str, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        body = await self._get(url)
        skip = start
        remaining = length
        try:
            async for chunk in body:
                if skip:
                    if len(chunk) <= skip:
                        skip -= len(chunk)
                        continue
                    chunk = chunk[skip:]
                    skip = 0
                if remaining is not None:
                    if len(chunk) >= remaining:
                        if remaining:
                            yield chunk[:remaining]
                        remaining = 0
                        break
                    remaining -= len(chunk)
                if chunk:
                    yield chunk
        finally:
            await body.aclose()
        if remaining:
            raise StoreError(f"Store {self.id}: the data at {url} ended {remaining} bytes short of the range read")

    async def delete(self, url: str) -> None:
        """Nothing to do: the data belongs to the web server, which offers no way to remove it."""

    async def stat(self, url: str) -> int | None:
        """The ``Content-Length`` of a GET, whose body is then not read (counted only when the server sends
        no length); None when the server answers 404 or 410."""
        try:
            body = await self._get(url)
        except NotFound:
            return None
        try:
            if body.size is not None:
                return body.size
            size = 0
            async for chunk in body:
                size += len(chunk)
            return size
        finally:
            await body.aclose()

    async def list_objects(self) -> AsyncIterator[ListedObject]:
        """A web server cannot be listed: nothing here is ever an orphan for `glimpse fsck`."""
        nothing: tuple[ListedObject, ...] = ()
        for listed in nothing:
            yield listed

    def details(self) -> dict[str, object]:
        return {}

    async def check(self) -> None:
        """Always healthy: there is no one server to probe (each location names its own)."""
