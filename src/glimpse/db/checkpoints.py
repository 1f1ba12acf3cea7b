"""SQLite's WAL checkpoints in a thread of their own, off the request path.

In WAL mode every commit appends the pages it changed to the ``-wal`` file, and SQLite copies them back into
the database (a checkpoint: two ``fdatasync``, of the log and of the database) when the log passes
``wal_autocheckpoint`` pages, in whichever commit crossed the line. An image create changes about two dozen
pages (the row, its many list indexes), so with the default of 1,000 pages one create in about 40 paid for a
checkpoint: 10-20 ms on this kind of disk, about a tenth of a sequential client's time and most of its p99
(``bench/README.md``, "SQLite checkpoints").

A :class:`Checkpointer` runs ``PRAGMA wal_checkpoint(PASSIVE)`` on a connection of its own, at most every
``interval`` seconds while this process commits and once :data:`MIN_COMMITS` commits were made since its last
one (about SQLite's own threshold of 1,000 pages for image creates; a server that writes little syncs as
rarely as before): it waits for no reader and no writer, and the sqlite3
module releases the interpreter lock around SQLite's work, so requests go on meanwhile. But SQLite starts the
log over from its beginning only after a checkpoint that copied all of it, and under a steady stream of
commits a passive one never does (more arrive while it syncs): the log would only grow. So once it holds
:data:`RESTART_PAGES`, the thread follows the passive checkpoint with a ``RESTART`` one, which takes the write
lock (commits wait for it, at most :data:`RESTART_WAIT` for the lock and then the copy of the few pages
committed since the passive one and a sync), waits for the reads in the log, and lets the next commit start
the log over. That is one short wait every few hundred creates instead of a whole checkpoint every forty.
The connections of the pool keep an automatic checkpoint only as a backstop (:data:`BACKSTOP_PAGES`), for a
log that grows faster than the thread keeps up with or a process that does not run one. Every process that
writes runs its own (the server, its task worker, a separate worker); two never checkpoint at once (SQLite's
checkpoint lock: the second finds it busy and tries again at its next turn). The thread starts at the first
commit in a process (after a fork, in the child too) and stops with :meth:`close`.

Nothing here opens the database's files other than through SQLite. SQLite's locks on a WAL database are POSIX
locks on its ``-shm`` file, and closing any descriptor of a file drops every such lock its process holds
(https://www.sqlite.org/howtocorrupt.html, 2.2): an earlier version read the log's length from the ``-shm``
header with ``open()``, which dropped the write lock of a commit under way in another thread, and another
process's commit then went to the same place in the log (creates answered 201 were lost; 2026-12-07).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

log = logging.getLogger(__name__)

MIN_COMMITS = 32  # commits of this process since its last checkpoint before one is worth its two syncs
RESTART_PAGES = 8_000  # a log this long (about 32 MB of 4 KiB pages) is started over (see Checkpointer)
RESTART_WAIT = 0.05  # seconds a restart waits for the commit or the reads under way
BACKSTOP_PAGES = 20_000  # the pool's own automatic checkpoint: about 80 MB of log
LOG_SIZE_LIMIT = 64 * 1024 * 1024  # bytes the -wal file is cut back to once a checkpoint emptied it


class Checkpointer:
    """Checkpoints the SQLite database at ``path`` in a daemon thread, at most every ``interval`` seconds
    while :meth:`committed` is called."""

    def __init__(self, path: str, interval: float) -> None:
        self.path = path
        self.interval = interval
        self.checkpoints = 0  # done by this process (for tests and the curious)
        self._commits = 0  # committed() calls in this process; the thread's turn reads it (a stale read waits a turn)
        self._covered = 0  # ... of which the last checkpoint covered
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def committed(self) -> None:
        """A transaction of this process committed: a checkpoint within ``interval`` (cheap: an event)."""
        if self._pid != os.getpid():
            self._start()
        self._commits += 1
        self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid() or self._stop.is_set():
                return
            # a fork copies this object but not its thread: the child starts its own
            self._wake = threading.Event()
            self._commits = self._covered = 0
            self._thread = threading.Thread(target=self._run, name="sqlite-checkpoints", daemon=True)
            self._pid = os.getpid()
            self._thread.start()

    def _run(self) -> None:
        wake = self._wake
        connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        connection.execute(f"PRAGMA busy_timeout={int(RESTART_WAIT * 1000)}")
        try:
            while True:
                wake.wait()
                if self._stop.is_set():
                    return
                wake.clear()  # before the checkpoint: a commit from now on sets it again
                commits = self._commits
                if commits - self._covered >= MIN_COMMITS:
                    self._covered = commits
                    self.checkpoint(connection)
                if self._stop.wait(self.interval):  # what commits meanwhile waits for the next turn
                    return
        finally:
            connection.close()

    def checkpoint(self, connection: sqlite3.Connection) -> tuple[int, int, int] | None:
        """A passive checkpoint, and a restart of the log once it is long: (busy, pages in the log, pages
        copied) of the last, None when one failed (logged)."""
        result = self._pragma(connection, "PASSIVE")
        if result is not None and result[1] >= RESTART_PAGES:
            result = self._pragma(connection, "RESTART")
        return result

    def _pragma(self, connection: sqlite3.Connection, mode: str) -> tuple[int, int, int] | None:
        try:
            # every row fetched, so the statement ends: one left open would hold a read lock on the log
            [row] = connection.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()
        except sqlite3.Error as exc:  # another process's checkpoint, a disk error: the next turn tries again
            log.debug("WAL checkpoint (%s) of %s: %s", mode, self.path, exc)
            return None
        self.checkpoints += 1
        return int(row[0]), int(row[1]), int(row[2])

    @property
    def idle(self) -> bool:
        """No commit waits for a checkpoint: each one before now was in a checkpoint that ended or is under way."""
        return not self._wake.is_set()

    def close(self) -> None:
        """Stop the thread (after the checkpoint it may be running); once."""
        with self._lock:
            self._stop.set()
            thread = self._thread if self._pid == os.getpid() else None
        self._wake.set()
        if thread is not None:
            thread.join(30)
