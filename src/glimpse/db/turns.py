"""One SQLite write transaction at a time: within a process, and between the processes that share a database
file (``Database._writing`` says why).

Within a process a re-entrant lock; between processes an exclusive ``flock`` on a file beside the database
(``<database>.write-turns``), taken by the outermost turn of the thread holding the lock. A waiter for the
file's lock tries again after 50 us, doubling up to 1 ms, so it starts within a millisecond of the other
process's commit, where SQLite's busy handler waits 1, 2, 5, 10, 15, 20, 25 ms... A ``flock`` belongs to the
open file, so a forked child opens the file anew (sharing its parent's would share the parent's lock), and
closing a descriptor of another file (or of this one, opened elsewhere) never drops it, unlike the POSIX locks
SQLite keeps on its own files.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
import weakref

log = logging.getLogger(__name__)

_ALL: weakref.WeakSet[WriteTurns] = weakref.WeakSet()
FIRST_WAIT = 0.00005  # seconds before trying the file's lock again, doubled up to LONGEST_WAIT
LONGEST_WAIT = 0.001


class WriteTurns:
    """This process's writers' turns, and with ``path`` (a file beside the database) every process's."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._depth = 0  # the holding thread's nesting
        self._fd: int | None = None
        _ALL.add(self)

    def acquire(self, timeout: float) -> bool:
        """Wait for this process's turn to write (and every process's, with a file), at most ``timeout``
        seconds in all: whether it came."""
        deadline = time.monotonic() + timeout
        if not self._lock.acquire(timeout=timeout):
            return False
        if self._depth == 0 and self.path is not None and not self._lock_file(deadline):
            self._lock.release()
            return False
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._lock.release()

    def _lock_file(self, deadline: float) -> bool:
        if self._fd is None:
            assert self.path is not None
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:  # a read-only directory: SQLite's own lock alone, as before
                log.info("SQLite write turns between processes are off (%s): %s", self.path, exc)
                self.path = None
                return True
        wait = FIRST_WAIT
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(wait)
                wait = min(LONGEST_WAIT, wait * 2)

    def close(self) -> None:
        """Close the file (its lock, if this process held it, goes with it)."""
        with self._lock:
            fd, self._fd = self._fd, None
            if fd is not None:
                os.close(fd)

    def _renew(self) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        fd, self._fd = self._fd, None  # the parent's open file: the child opens its own at its first turn
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


def _after_fork_in_child() -> None:  # the child runs one thread at this moment
    for turns in list(_ALL):
        turns._renew()


os.register_at_fork(after_in_child=_after_fork_in_child)
