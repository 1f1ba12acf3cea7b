"""One SQLite write transaction at a time within a process (``Database._writing`` says why)."""

from __future__ import annotations

import os
import threading
import weakref

_ALL: weakref.WeakSet[WriteTurns] = weakref.WeakSet()


class WriteTurns:
    """A re-entrant lock (a transaction run inside another on the same thread does not wait for itself)
    that a forked child gets anew: a lock one of the parent's threads held at the fork would stay held there."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        _ALL.add(self)

    def acquire(self, timeout: float) -> bool:
        """Wait for this process's turn to write, at most ``timeout`` seconds: whether it came."""
        return self._lock.acquire(timeout=timeout)

    def release(self) -> None:
        self._lock.release()

    def _renew(self) -> None:
        self._lock = threading.RLock()


def _after_fork_in_child() -> None:  # the child runs one thread at this moment
    for turns in list(_ALL):
        turns._renew()


os.register_at_fork(after_in_child=_after_fork_in_child)
