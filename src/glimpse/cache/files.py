"""One node's cache directory: complete files, their verification records, partial fills, the byte budget.

Layout under the cache directory::

    .lock                     flock held while space is reserved or entries are removed
    data/<image_id>           a complete, verified image (read-only)
    verified/<image_id>       what was verified: inode, size, ctime, mtime and the multihash
    incomplete/<image_id>.<pid>.<token>   a fill in progress, allocated to its full size up front

The budget is hard: a fill reserves its whole size (``posix_fallocate``) under the lock, after evicting the
least recently used entries until ``used + size <= max_size`` and the disk keeps ``min_free`` bytes free, or
it is refused. Every process of a node (uvicorn workers, ``glimpse worker``) takes the same lock, so the
directory's files never add up to more than the budget, whatever runs at once.

A complete file is served only while it is still the file that was verified: same inode, size, ctime and
mtime as recorded when its hash matched the image's multihash, and the image's multihash still the one
recorded. Anything else (a write to the file, a truncation, a replaced file) evicts it unread.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glimpse.errors import GlimpseError

log = logging.getLogger(__name__)

RECORD_RESERVE = 512  # bytes counted for an entry's verification record


class Refused(GlimpseError):
    """The cache will not take this image (too big for the budget, disk too full, already there)."""

    status = 409


@dataclass(frozen=True, slots=True)
class Entry:
    image_id: str
    size: int
    modified: float


@dataclass(slots=True)
class Usage:
    total: int = 0
    complete: dict[str, int] = field(default_factory=dict)  # image id -> bytes (file and record)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Fill:
    """A reservation being written: bytes in order, hashed as they arrive; kept only if they verify."""

    def __init__(self, cache: CacheDir, image_id: str, size: int, path: Path, fd: int, algorithms: Sequence[str]):
        self.cache = cache
        self.image_id = image_id
        self.size = size
        self.path = path
        self.fd: int | None = fd
        self.written = 0
        self.hashes = {name: hashlib.new(name) for name in algorithms}
        self.expected: dict[str, str] = {}

    def write(self, chunk: bytes | memoryview) -> None:
        """Blocking: append ``chunk`` (never past the reserved size) and hash it."""
        if self.fd is None:
            raise Refused(f"the cache fill of image {self.image_id} was abandoned")
        if self.written + len(chunk) > self.size:
            self.discard()
            raise Refused(f"image {self.image_id} has more data than its recorded size")
        view = memoryview(chunk)
        while view:
            done = os.pwrite(self.fd, view, self.written)
            self.written += done
            view = view[done:]
        for digest in self.hashes.values():
            digest.update(chunk)

    def verify(self, expected: dict[str, str]) -> bool:
        """Blocking: True if the file is complete and every digest matches ``expected``; else it is removed."""
        if self.fd is None:
            return False
        complete = self.written == self.size and all(
            self.hashes[name].hexdigest() == value for name, value in expected.items() if name in self.hashes
        )
        if not complete:
            log.warning("image %s: cached data did not verify (%d of %d bytes); discarded",
                        self.image_id, self.written, self.size)  # fmt: skip
            self.discard()
            return False
        os.close(self.fd)
        self.fd = None
        self.expected = expected
        return True

    def commit(self) -> None:
        """Blocking: the verified file becomes the cache's entry (after :meth:`verify`)."""
        algorithm, value = next((name, v) for name, v in self.expected.items() if name != "md5")
        self.cache.commit(self.image_id, self.path, algorithm, value)

    def discard(self) -> None:
        """Remove the partial file (nothing once it was committed)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        self.path.unlink(missing_ok=True)


class CacheDir:
    def __init__(self, root: Path, max_size: int, min_free: int = 0) -> None:
        self.root = root
        self.max_size = max_size
        self.min_free = min_free
        self.data = root / "data"
        self.records = root / "verified"
        self.incomplete = root / "incomplete"
        for directory in (self.data, self.records, self.incomplete):
            directory.mkdir(parents=True, exist_ok=True)
        self._lock_path = root / ".lock"

    # -- locking and accounting -------------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def usage(self) -> Usage:
        """Bytes held by every file of the cache (complete, records, partial)."""
        usage = Usage()
        for directory in (self.data, self.records, self.incomplete):
            with os.scandir(directory) as entries:
                for entry in entries:
                    try:
                        size = entry.stat(follow_symlinks=False).st_size
                    except FileNotFoundError:
                        continue
                    usage.total += size
                    if directory is not self.incomplete:
                        usage.complete[entry.name] = usage.complete.get(entry.name, 0) + size
        return usage

    def free_space(self) -> int:
        st = os.statvfs(self.root)
        return st.f_bavail * st.f_frsize

    # -- filling ----------------------------------------------------------------------------------------
    def reserve(
        self, image_id: str, size: int, lru: Sequence[str], algorithms: Sequence[str]
    ) -> tuple[Fill, list[tuple[str, int]]]:
        """Blocking: room for ``size`` bytes of ``image_id``, evicting least recently used entries first
        (``lru``: image ids, oldest first; entries it does not name go before them). Returns the fill and the
        evicted entries (id, bytes). Refused when the image cannot fit or is already cached or filling."""
        needed = size + RECORD_RESERVE
        if needed > self.max_size:
            raise Refused(f"image {image_id} ({size} bytes) is larger than the cache ({self.max_size} bytes)")
        evicted: list[tuple[str, int]] = []
        with self.locked():
            self._remove_dead_partials()
            if (self.data / image_id).exists():
                raise Refused(f"image {image_id} is already cached")
            if any(name.startswith(image_id + ".") for name in os.listdir(self.incomplete)):
                raise Refused(f"image {image_id} is being cached")
            usage = self.usage()
            rank = {image: i for i, image in enumerate(lru)}
            victims = sorted(usage.complete, key=lambda image: rank.get(image, -1))
            while usage.total + needed > self.max_size or self.free_space() - needed < self.min_free:
                if not victims:
                    raise Refused(
                        f"no room in the cache for image {image_id}: {usage.total} of {self.max_size} bytes used, "
                        f"{self.free_space()} bytes free on disk (floor {self.min_free})"
                    )
                victim = victims.pop(0)
                freed = usage.complete.pop(victim)
                self._remove_files(victim)
                usage.total -= freed
                evicted.append((victim, freed))
            path = self.incomplete / f"{image_id}.{os.getpid()}.{secrets.token_hex(4)}"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                try:
                    os.posix_fallocate(fd, 0, size) if size else None
                except OSError:  # a filesystem without fallocate: the size still counts against the budget
                    os.ftruncate(fd, size)
            except BaseException:
                os.close(fd)
                path.unlink(missing_ok=True)
                raise
        return Fill(self, image_id, size, path, fd, algorithms), evicted

    def commit(self, image_id: str, partial: Path, algorithm: str, value: str) -> None:
        """Blocking: the verified partial file becomes the entry, with its verification record."""
        target = self.data / image_id
        with self.locked():  # the partial file's reserved bytes become the entry's: usage never jumps
            os.chmod(partial, 0o444)
            os.rename(partial, target)
            st = os.stat(target)
            record = {"ino": st.st_ino, "size": st.st_size, "ctime_ns": st.st_ctime_ns, "mtime_ns": st.st_mtime_ns,
                      "algorithm": algorithm, "hash": value}  # fmt: skip
            temp = self.records / f".{image_id}.{secrets.token_hex(4)}"
            temp.write_text(json.dumps(record))
            os.rename(temp, self.records / image_id)

    # -- reading ----------------------------------------------------------------------------------------
    def open_verified(self, image_id: str, algorithm: str | None, value: str | None, size: int) -> int | None:
        """Blocking: an open descriptor of the entry if it is still the verified file of these bytes; None if
        there is no entry. An entry that no longer matches is removed, and :class:`Corrupt` raised."""
        try:
            fd = os.open(self.data / image_id, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            st = os.fstat(fd)
            record = self._record(image_id)
            fresh = (
                record is not None
                and record.get("ino") == st.st_ino
                and record.get("size") == st.st_size == size
                and record.get("ctime_ns") == st.st_ctime_ns
                and record.get("mtime_ns") == st.st_mtime_ns
                and record.get("algorithm") == algorithm
                and record.get("hash") == value
            )
        except BaseException:
            os.close(fd)
            raise
        if not fresh:
            os.close(fd)
            self.remove(image_id)
            raise Corrupt(f"cached file of image {image_id} changed since it was verified; evicted")
        return fd

    def _record(self, image_id: str) -> dict[str, Any] | None:
        try:
            loaded = json.loads((self.records / image_id).read_text())
        except (FileNotFoundError, ValueError):
            return None
        return loaded if isinstance(loaded, dict) else None

    # -- removing ---------------------------------------------------------------------------------------
    def _remove_files(self, image_id: str) -> bool:
        found = False
        for path in (self.data / image_id, self.records / image_id):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                found = True
        return found

    def remove(self, image_id: str) -> bool:
        """Blocking: remove an entry (a reader holding it open keeps reading); True if there was one."""
        with self.locked():
            return self._remove_files(image_id)

    def clear(self) -> list[str]:
        """Blocking: remove every complete entry; the ids removed."""
        with self.locked():
            removed = [image_id for image_id in self.cached_ids() if self._remove_files(image_id)]
        return removed

    def cached_ids(self) -> list[str]:
        return [name for name in os.listdir(self.data) if not name.startswith(".")]

    def entries(self) -> list[Entry]:
        found = []
        for image_id in self.cached_ids():
            with contextlib.suppress(FileNotFoundError):
                st = os.stat(self.data / image_id)
                found.append(Entry(image_id, st.st_size, st.st_mtime))
        return found

    def _remove_dead_partials(self, older_than: float | None = None) -> int:
        removed = 0
        now = time.time()
        for name in os.listdir(self.incomplete):
            path = self.incomplete / name
            parts = name.split(".")
            dead = len(parts) != 3 or not parts[1].isdigit() or not _pid_alive(int(parts[1]))
            try:
                stalled = older_than is not None and now - path.stat().st_mtime > older_than
            except FileNotFoundError:
                continue
            if dead or stalled:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def clean(self, stall_time: float) -> tuple[int, list[str]]:
        """Blocking: remove partial files of dead processes or older than ``stall_time`` seconds, and invalid
        entries (a file without its record, a record without its file, a file not matching its record).
        Returns the number of partial files removed and the ids of the invalid entries removed."""
        invalid: list[str] = []
        with self.locked():
            partials = self._remove_dead_partials(stall_time)
            names = set(self.cached_ids()) | {n for n in os.listdir(self.records) if not n.startswith(".")}
            for image_id in sorted(names):
                record = self._record(image_id)
                try:
                    st = os.stat(self.data / image_id)
                except FileNotFoundError:
                    st = None
                valid = (
                    record is not None and st is not None and record.get("ino") == st.st_ino
                    and record.get("size") == st.st_size and record.get("ctime_ns") == st.st_ctime_ns
                    and record.get("mtime_ns") == st.st_mtime_ns
                )  # fmt: skip
                if not valid:
                    self._remove_files(image_id)
                    invalid.append(image_id)
            for name in os.listdir(self.records):
                if name.startswith("."):
                    (self.records / name).unlink(missing_ok=True)
        return partials, invalid

    def prune(self, lru: Sequence[str]) -> list[tuple[str, int]]:
        """Blocking: evict least recently used entries until the cache is within its budget (it only exceeds
        it if ``image_cache_max_size`` was lowered); the entries evicted."""
        evicted: list[tuple[str, int]] = []
        with self.locked():
            usage = self.usage()
            rank = {image: i for i, image in enumerate(lru)}
            victims = sorted(usage.complete, key=lambda image: rank.get(image, -1))
            while usage.total > self.max_size and victims:
                victim = victims.pop(0)
                freed = usage.complete.pop(victim)
                self._remove_files(victim)
                usage.total -= freed
                evicted.append((victim, freed))
        return evicted


class Corrupt(GlimpseError):
    """A cached file no longer matches what was verified."""

    status = 500
