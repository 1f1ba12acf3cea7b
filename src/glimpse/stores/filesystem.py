"""A directory on a local (or mounted) filesystem. Data is written to a temporary name and renamed."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import anyio.to_thread

from glimpse.concurrency import SerialWorker
from glimpse.errors import NotFound, StoreError
from glimpse.stores.base import Block, StoredObject

PARTIAL_SUFFIX = ".partial"


def _write_all(fd: int, block: Block) -> None:
    view = memoryview(block)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _disk(call: Callable[..., None], store_id: str) -> Callable[..., None]:
    """Run a disk operation, reporting its OSError as this store's failure (and nothing else as such)."""

    def run(*args: Any) -> None:
        try:
            call(*args)
        except OSError as exc:
            raise StoreError(f"Store {store_id} failed to write: {exc.strerror or exc}") from exc

    return run


class FilesystemStore:
    type = "file"

    def __init__(
        self, store_id: str, datadir: Path, *, description: str = "", weight: int = 0, chunk_size: int = 1 << 20
    ) -> None:
        self.id = store_id
        self.datadir = datadir.resolve()
        self.description = description
        self.weight = weight
        self.chunk_size = chunk_size
        self.flush_every = 64 << 20
        self.datadir.mkdir(parents=True, exist_ok=True)

    def _path(self, url: str) -> Path:
        parsed = urlparse(url)
        path = Path(unquote(parsed.path)).resolve()
        if parsed.scheme != "file" or path.parent != self.datadir:
            raise NotFound(f"Location {url} does not belong to store {self.id}")
        return path

    def url_for(self, key: str) -> str:
        return (self.datadir / key).as_uri()

    async def put(self, key: str, blocks: AsyncIterator[Block], size_hint: int | None = None) -> StoredObject:
        final = self.datadir / key
        partial = self.datadir / f"{key}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}"
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        except OSError as exc:
            raise StoreError(f"Store {self.id} cannot write: {exc.strerror}") from exc
        size = unsynced = 0
        try:
            try:
                # writes and periodic flushes run in one thread, in order, while the next blocks arrive;
                # flushing as we go keeps the final fsync short
                write, flush = _disk(_write_all, self.id), _disk(os.fdatasync, self.id)
                async with SerialWorker(limit=4, name=f"fs-{self.id}") as writer:
                    async for block in blocks:
                        await writer.submit(write, fd, block)
                        size += len(block)
                        unsynced += len(block)
                        if unsynced >= self.flush_every:
                            await writer.submit(flush, fd)
                            unsynced = 0
                    await writer.submit(_disk(os.fsync, self.id), fd)
            finally:
                os.close(fd)
            _disk(os.replace, self.id)(partial, final)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return StoredObject(url=final.as_uri(), size=size)

    async def open(self, url: str, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        path = self._path(url)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise NotFound(f"Image data for {url} is missing from store {self.id}") from None
        try:
            offset = start
            remaining = length if length is not None else os.fstat(fd).st_size - start
            while remaining > 0:
                chunk = await anyio.to_thread.run_sync(os.pread, fd, min(self.chunk_size, remaining), offset)
                if not chunk:
                    break
                offset += len(chunk)
                remaining -= len(chunk)
                yield chunk
        finally:
            os.close(fd)

    async def delete(self, url: str) -> None:
        self._path(url).unlink(missing_ok=True)

    async def stat(self, url: str) -> int | None:
        try:
            return self._path(url).stat().st_size
        except FileNotFoundError:
            return None

    def details(self) -> dict[str, object]:
        return {"datadir": str(self.datadir)}

    def partial_files(self) -> list[Path]:
        """Leftovers of interrupted writes (a crash between open and rename)."""
        return sorted(self.datadir.glob(f"*{PARTIAL_SUFFIX}"))
