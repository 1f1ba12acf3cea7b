"""Which images a live process is writing data for, as any node can tell: PostgreSQL advisory locks.

An upload and an import run hold their image's lock, shared, from before the image leaves ``queued`` (or
before the import writes) until its data is recorded or undone, on one connection their process keeps for
that purpose. A process that dies, however it dies, loses that connection and with it every lock it held, so
``writing(image_id)`` is False for an image no live process writes any more, on whichever node it is asked:
the start-up recovery and `glimpse fsck` of any node can then put a killed node's upload back to ``queued``
and remove its unfinished writes while the other nodes go on serving, and never touch a live one's. Keys are
the first 8 bytes of SHA-256 of the image id (a collision only makes recovery wait for the other image).

SQLite (one machine, one file) has none: ``writing()`` is None there and recovery keeps the data directory
lock's rule (it runs only when no other process uses the data directory).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from sqlalchemy import Connection, Engine, text
from sqlalchemy import exc as sa_exc

log = logging.getLogger(__name__)


def lock_key(image_id: str) -> int:
    """The advisory lock key of an image's writers: a signed 64-bit integer."""
    return int.from_bytes(hashlib.sha256(b"glimpse-writer:" + image_id.encode()).digest()[:8], "big", signed=True)


class WriterLocks:
    """The writer locks of one process, on one dedicated connection of ``engine`` (None: no locks, SQLite)."""

    def __init__(self, engine: Engine | None) -> None:
        self._engine = engine
        self._connection: Connection | None = None
        self._lock = threading.Lock()  # one statement at a time on the connection

    @property
    def on(self) -> bool:
        return self._engine is not None

    def _run(self, statement: str, key: int) -> bool:
        assert self._engine is not None
        with self._lock:
            if self._connection is None or self._connection.closed or self._connection.invalidated:
                self._connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                return bool(self._connection.execute(text(statement), {"key": key}).scalar())
            except sa_exc.DBAPIError:
                # the connection is gone, and with it the locks it held: the next call opens a new one
                self._connection.invalidate()
                self._connection = None
                raise

    @asynccontextmanager
    async def holding(self, image_id: str) -> AsyncIterator[None]:
        """Hold ``image_id``'s writer lock (shared: two uploads of one image still race by compare-and-set)."""
        if not self.on:
            yield
            return
        key = lock_key(image_id)
        await anyio.to_thread.run_sync(self._run, "SELECT pg_advisory_lock_shared(:key) IS NULL", key)
        try:
            yield
        finally:
            await asyncio.shield(self._release(key))

    async def _release(self, key: int) -> None:
        try:
            released = await anyio.to_thread.run_sync(self._run, "SELECT pg_advisory_unlock_shared(:key)", key)
        except sa_exc.DBAPIError as exc:
            log.warning("writer lock %d: the connection holding it was lost (%s)", key, exc.__class__.__name__)
            return
        if not released:
            log.warning("writer lock %d was not held any more (its connection was lost meanwhile)", key)

    async def writing(self, image_id: str) -> bool | None:
        """Whether a live process (this one included) is writing ``image_id``'s data; None: cannot tell."""
        if not self.on:
            return None
        return await anyio.to_thread.run_sync(self._probe, lock_key(image_id))

    def _probe(self, key: int) -> bool:
        """Try the lock exclusively on a connection of its own (a session's own shared hold never stops it from
        taking the lock): taken, then let go at once, means nobody holds it."""
        assert self._engine is not None
        with self._engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            if connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar():
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                return False
        return True

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
