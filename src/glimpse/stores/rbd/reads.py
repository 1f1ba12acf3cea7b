"""Reading: ranged reads of an image's snapshot, sizes, and the listing of the pool (or namespace)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.to_thread

from glimpse.errors import NotFound
from glimpse.stores.base import ListedObject
from glimpse.stores.rbd.base import RbdBase
from glimpse.stores.rbd.connection import LIST_PAGE, SNAPSHOT, Connection, load_bindings


class Reading(RbdBase):
    """``open``, ``stat`` and ``list_objects``."""

    async def open(self, url: str, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        image, size = await self._run(self._open_image, "cannot read", url)
        try:
            end = size if length is None else min(size, start + length)
            offset = start
            read = self._guarded(lambda _conn, at, count: image.read(at, count), f"cannot read {url}")
            # librbd is asked for at least READ_SIZE at a time (one round trip each), handed out in chunk_size
            while offset < end:
                data: bytes = await anyio.to_thread.run_sync(read, offset, min(self.read_size, end - offset))
                if not data:
                    break
                offset += len(data)
                if len(data) <= self.chunk_size:
                    yield data
                    continue
                view = memoryview(data)
                for at in range(0, len(view), self.chunk_size):
                    yield bytes(view[at : at + self.chunk_size])
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(image.close)

    def _open_image(self, conn: Connection, url: str) -> tuple[Any, int]:
        _, rbd = load_bindings()
        name, snapshot = self._locate(conn, url)
        try:
            image = rbd.Image(conn.ioctx, name, snapshot=snapshot, read_only=True)
        except rbd.ImageNotFound:
            raise NotFound(f"Image data for {url} is missing from store {self.id}") from None
        try:
            return image, image.size()
        except BaseException:
            image.close()
            raise

    async def stat(self, url: str) -> int | None:
        return await self._run(self._stat, "cannot read", url)

    def _stat(self, conn: Connection, url: str) -> int | None:
        _, rbd = load_bindings()
        name, snapshot = self._locate(conn, url)
        try:
            with rbd.Image(conn.ioctx, name, snapshot=snapshot, read_only=True) as image:
                return int(image.size())
        except rbd.ImageNotFound:
            return None

    async def list_objects(self) -> AsyncIterator[ListedObject]:
        names: list[str] = await self._run(self._names, "cannot list its pool")
        for page in range(0, len(names), LIST_PAGE):
            found = await self._run(self._describe, "cannot list its pool", names[page : page + LIST_PAGE])
            for listed in found:
                yield listed

    def _names(self, conn: Connection) -> list[str]:
        _, rbd = load_bindings()
        return sorted(rbd.RBD().list(conn.ioctx))

    def _describe(self, conn: Connection, names: list[str]) -> list[ListedObject]:
        """Size and completeness of each named image (one without the protected snapshot is unfinished)."""
        _, rbd = load_bindings()
        found = []
        for name in names:
            try:
                with rbd.Image(conn.ioctx, name, read_only=True) as image:
                    size = image.size()
                    try:
                        complete = bool(image.is_protected_snap(SNAPSHOT))
                    except rbd.ImageNotFound:  # no such snapshot yet
                        complete = False
            except rbd.ImageNotFound:  # removed while we looked
                continue
            found.append(ListedObject(url=self.url_for(conn.fsid, name), size=size, key=name, partial=not complete))
        return found
