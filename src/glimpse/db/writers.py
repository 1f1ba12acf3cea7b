"""Which images a live process is writing data for, as any node can tell: PostgreSQL advisory locks.

An upload holds its image's writer lock, shared, from before the image leaves ``queued`` until its data is
recorded or undone; an import attempt from before it writes until the transaction that ends its task (success
or undo) committed or it abandoned the task. The lock lives on one connection its process keeps for that
purpose, outside any transaction. A process that dies, however it dies, loses that connection and with it
every lock it held, so ``writing(image_id)`` is False for an image no live process writes any more, on
whichever node it is asked: the start-up recovery and `glimpse fsck` of any node can then put a killed node's
upload back to ``queued`` and remove its unfinished writes while the other nodes go on serving, and never
touch a live one's. A stopped process (SIGSTOP, a frozen VM) keeps its locks: it may still write when it
runs again, so what it left stays until it ends it or dies. Shared, the lock never keeps another writer of
the same image waiting (a retry of a task whose worker is stopped runs at once; two uploads of one image
race by compare-and-set as before). Keys are the first 8 bytes of SHA-256 of the image id (a collision only
makes recovery wait for the other image).

A repair takes the lock exclusively for its own transaction (``exclude_writers``): checked under the image's
row lock, no writer can start between that check and the removal.

An artifact blob upload holds two: its blob's (``blob_writer``: the recovery settles a blob left 'saving' only
when nobody holds it) and its stored object's key, from before the blob turns 'saving' until it is recorded or
put back.

SQLite (one machine, one file) has none: ``writing()`` is None there and recovery keeps the data directory
lock's rule (it runs only when no other process uses the data directory).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from sqlalchemy import Connection, Engine, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from glimpse.errors import DatabaseUnavailable

log = logging.getLogger(__name__)


def lock_key(image_id: str) -> int:
    """The advisory lock key of an image's writers: a signed 64-bit integer."""
    return int.from_bytes(hashlib.sha256(b"glimpse-writer:" + image_id.encode()).digest()[:8], "big", signed=True)


def blob_writer(artifact_id: str, name: str, key: str) -> str:
    """What an artifact blob's upload holds the writer lock of, besides its stored object's key."""
    return f"artifact-blob:{artifact_id}/{name}/{key}"


def exclude_writers(session: Session, image_id: str) -> bool | None:
    """In the caller's transaction: True when no live process holds ``image_id``'s writer lock, which this
    transaction then holds exclusively until it ends (a writer that starts meanwhile waits for it); False when
    one does; None when the database has no such locks (SQLite). Never waits."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    taken = session.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": lock_key(image_id)}).scalar()
    return bool(taken)


class WriterLocks:
    """The writer locks of one process, on one dedicated connection of ``engine`` (None: no locks, SQLite)."""

    def __init__(self, engine: Engine | None) -> None:
        self._engine = engine
        self._connection: Connection | None = None
        self._lock = threading.Lock()  # one statement at a time on the connection
        self._held: collections.Counter[int] = collections.Counter()  # key -> holds of this process

    @property
    def on(self) -> bool:
        return self._engine is not None

    def _connected(self) -> Connection:
        """The dedicated connection; a new one takes again every lock this process holds (the lost one's went
        with it: a lock is lost only between a connection's loss and the next writer-lock call)."""
        assert self._engine is not None
        if self._connection is not None and not self._connection.closed and not self._connection.invalidated:
            return self._connection
        connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        for key in self._held:
            connection.execute(text("SELECT pg_advisory_lock_shared(:key)"), {"key": key})
        if self._held:
            log.warning("writer locks: the connection holding them was lost; took %d again", len(self._held))
        self._connection = connection
        return connection

    def _run(self, statement: str, key: int) -> bool:
        with self._lock:
            try:
                return self._execute(statement, key)
            except sa_exc.DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
            # the connection was found dead (and with it the locks it held): on a new one, which takes them again
            return self._execute(statement, key)

    def _execute(self, statement: str, key: int) -> bool:
        connection = self._connected()
        try:
            return bool(connection.execute(text(statement), {"key": key}).scalar())
        except sa_exc.DBAPIError:
            connection.invalidate()
            self._connection = None
            raise

    def _acquire(self, key: int) -> None:
        if self._run("SELECT pg_try_advisory_lock_shared(:key)", key):
            self._held[key] += 1
            return
        # a repair holds it exclusively for its transaction: wait for that on a connection of its own (this one
        # serves every writer of the process), then take it
        assert self._engine is not None
        with self._engine.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": key})
        self._run("SELECT pg_advisory_lock_shared(:key) IS NULL", key)
        self._held[key] += 1

    def _release_sync(self, key: int) -> bool:
        self._held[key] -= 1
        if self._held[key] <= 0:
            del self._held[key]
        return self._run("SELECT pg_advisory_unlock_shared(:key)", key)

    @asynccontextmanager
    async def holding(self, image_id: str) -> AsyncIterator[None]:
        """Hold ``image_id``'s writer lock (shared) while the body runs."""
        if not self.on:
            yield
            return
        key = lock_key(image_id)
        try:
            await anyio.to_thread.run_sync(self._acquire, key)
        except sa_exc.DBAPIError as exc:
            log.warning("writer lock %d: cannot take it (%s)", key, exc.__class__.__name__)
            raise DatabaseUnavailable("The database is unavailable; retry the request later.") from exc
        try:
            yield
        finally:
            await asyncio.shield(self._release(key))

    async def _release(self, key: int) -> None:
        try:
            released = await anyio.to_thread.run_sync(self._release_sync, key)
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
        """Try the lock exclusively for a transaction of its own (a session's own shared hold never stops it
        from taking the lock): taken means nobody holds it."""
        assert self._engine is not None
        with self._engine.begin() as connection:
            return not connection.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}).scalar()

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
