"""A directory on a local (or mounted) filesystem. Data is written to a temporary name and renamed."""

from __future__ import annotations

import ctypes
import errno
import os
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import anyio.to_thread

from glimpse.concurrency import SerialWorker
from glimpse.errors import NotFound, StorageFull, StorageWriteDenied, StoreError
from glimpse.stores.base import Block, ListedObject, StoredObject
from glimpse.stores.region import FileRegion

PARTIAL_SUFFIX = ".partial"
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
_NOT_WRITABLE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


def _write_all(fd: int, block: Block) -> None:
    view = memoryview(block)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _open_direct(path: Path) -> int | None:
    """A second descriptor of ``path`` that writes past the page cache; None where O_DIRECT is unsupported."""
    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        return None
    try:
        return os.open(path, os.O_WRONLY | flag)
    except OSError:  # EINVAL: tmpfs and some network filesystems
        return None


def _aligned(block: Block) -> bool:
    """Whether ``block`` may be written with O_DIRECT: its address and length are multiples of 4 KiB."""
    view = memoryview(block)
    if not view.nbytes or view.nbytes % DIRECT_ALIGN:
        return False
    try:
        address = ctypes.addressof(ctypes.c_char.from_buffer(view))
    except (TypeError, ValueError):  # read-only (bytes) or not contiguous
        return False
    return address % DIRECT_ALIGN == 0


def _write_at(fd: int, direct: int | None, block: Block, offset: int) -> None:
    """Write ``block`` at ``offset``: through ``direct`` when given, falling back to ``fd`` if the kernel
    refuses the direct write (EINVAL: an alignment the device needs is larger)."""
    view = memoryview(block).cast("B")
    if direct is not None:
        try:
            while view:
                written = os.pwrite(direct, view, offset)
                view, offset = view[written:], offset + written
            return
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def _failure(store_id: str, exc: OSError, what: str) -> StoreError:
    """This store's error for a failed disk operation: a full disk and a refused write have their own."""
    reason = exc.strerror or str(exc)
    if exc.errno in _NO_SPACE:
        return StorageFull(f"Image storage media is full: store {store_id} has no space left ({reason})")
    if exc.errno in _NOT_WRITABLE:
        return StorageWriteDenied(f"Store {store_id} cannot write: {reason}")
    return StoreError(f"Store {store_id} {what}: {reason}")


def _disk(call: Callable[..., None], store_id: str) -> Callable[..., None]:
    """Run a disk operation, reporting its OSError as this store's failure (and nothing else as such)."""

    def run(*args: Any) -> None:
        try:
            call(*args)
        except OSError as exc:
            raise _failure(store_id, exc, "failed to write") from exc

    return run


def _key_of(name: str) -> tuple[str, bool]:
    """The key a file holds, and whether it is an unfinished write (``<key>.<token>.partial``)."""
    if not name.endswith(PARTIAL_SUFFIX):
        return name, False
    stem = name[: -len(PARTIAL_SUFFIX)]
    key, _, _token = stem.rpartition(".")
    return key or stem, True


WRITES_QUEUED = 4  # blocks handed to the writer thread and not yet written
DIRECT_ALIGN = 4096  # O_DIRECT needs the buffer address, the length and the offset aligned to the device


class FilesystemStore:
    type = "file"
    # the data pipeline's pooled blocks: after asking for the next block, this store may still be writing
    # this many of the blocks it was given (its queued writes); older ones may be reused
    held_blocks = WRITES_QUEUED
    direct_io = True  # whole aligned blocks bypass the page cache (O_DIRECT) where the filesystem allows it

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

    def owns(self, url: str) -> bool:
        """A ``file://`` URL of a file directly in this store's directory, once ``..`` and symlinks are resolved:
        nothing a location names can lead out of the directory."""
        try:
            parsed = urlparse(url)
            if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
                return False
            return Path(unquote(parsed.path)).resolve().parent == self.datadir
        except (OSError, RuntimeError, ValueError):  # a NUL byte, a symlink loop
            return False

    def url_for(self, key: str) -> str:
        return (self.datadir / key).as_uri()

    async def put(self, key: str, blocks: AsyncIterator[Block], size_hint: int | None = None) -> StoredObject:
        """Write to ``<key>.<token>.partial``, fsync once, rename. Whole aligned blocks (the data pipeline's
        pooled buffers) go to the disk with ``O_DIRECT``, past the page cache: no copy into it and nothing
        left to flush; anything else (the last, shorter block; a filesystem without ``O_DIRECT``, e.g. tmpfs)
        is written through the page cache, flushed as it goes so the final fsync stays short."""
        final = self.datadir / key
        partial = self.datadir / f"{key}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}"
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        except OSError as exc:
            raise _failure(self.id, exc, "cannot write") from exc
        direct = _open_direct(partial) if self.direct_io else None
        size = unsynced = 0
        try:
            try:
                # writes and flushes run in one thread, in order, while the next blocks arrive
                write, flush = _disk(_write_at, self.id), _disk(os.fdatasync, self.id)
                async with SerialWorker(limit=WRITES_QUEUED, name=f"fs-{self.id}") as writer:
                    async for block in blocks:
                        use = direct if direct is not None and _aligned(block) else None
                        await writer.submit(write, fd, use, block, size)
                        size += len(block)
                        if use is None:
                            unsynced += len(block)
                        if unsynced >= self.flush_every:
                            await writer.submit(flush, fd)
                            unsynced = 0
                    await writer.submit(_disk(os.fsync, self.id), fd)
            finally:
                os.close(fd)
                if direct is not None:
                    os.close(direct)
            _disk(os.replace, self.id)(partial, final)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return StoredObject(url=final.as_uri(), size=size)

    async def open(self, url: str, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        async for chunk in self.open_region(url, start, length):
            yield chunk

    def open_region(self, url: str, start: int = 0, length: int | None = None) -> FileRegion:
        """The bytes as a :class:`FileRegion` (a download sends it with ``sendfile`` where the server can)."""
        path = self._path(url)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise NotFound(f"Image data for {url} is missing from store {self.id}") from None
        except OSError as exc:
            raise StoreError(f"Store {self.id} cannot read: {exc.strerror or exc}") from exc
        try:
            available = max(0, os.fstat(fd).st_size - start)
        except BaseException:
            os.close(fd)
            raise
        return FileRegion(fd, start, available if length is None else min(length, available), self.chunk_size)

    async def delete(self, url: str) -> None:
        path = self._path(url)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise _failure(self.id, exc, "cannot delete") from exc

    async def stat(self, url: str) -> int | None:
        path = self._path(url)
        try:
            return path.stat().st_size
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"Store {self.id} cannot read: {exc.strerror or exc}") from exc

    async def list_objects(self) -> AsyncIterator[ListedObject]:
        for listed in await anyio.to_thread.run_sync(self._scan):
            yield listed

    def _scan(self) -> list[ListedObject]:
        """The regular files of the datadir, ``*.partial`` ones (writes in progress or interrupted) included."""
        found = []
        try:
            with os.scandir(self.datadir) as entries:
                for entry in entries:
                    try:
                        if not entry.is_file(follow_symlinks=False):
                            continue
                        size = entry.stat(follow_symlinks=False).st_size
                    except FileNotFoundError:  # removed while we looked
                        continue
                    key, partial = _key_of(entry.name)
                    url = (self.datadir / entry.name).as_uri()
                    found.append(ListedObject(url=url, size=size, key=key, partial=partial))
        except OSError as exc:
            raise StoreError(f"Store {self.id} cannot list its directory: {exc.strerror or exc}") from exc
        return sorted(found, key=lambda listed: listed.url)

    def details(self) -> dict[str, object]:
        # Glance's keys: the read size, and no thin provisioning (zeros are written as data)
        return {"data_dir": str(self.datadir), "chunk_size": self.chunk_size, "thin_provisioning": False}

    async def check(self) -> None:
        await anyio.to_thread.run_sync(self._probe)

    def _probe(self) -> None:
        """The datadir exists and takes a new file (created, written and removed again)."""
        probe = self.datadir / f".healthcheck.{secrets.token_hex(4)}{PARTIAL_SUFFIX}"
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            try:
                _write_all(fd, b"ok")
            finally:
                os.close(fd)
                probe.unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(f"Store {self.id} cannot write to its directory: {exc.strerror or exc}") from exc

    def partial_files(self) -> list[Path]:
        """Leftovers of interrupted writes (a crash between open and rename)."""
        return sorted(self.datadir.glob(f"*{PARTIAL_SUFFIX}"))
