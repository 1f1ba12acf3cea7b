"""The data directory lock: shared by every running server, exclusive for fsck and the start-up recovery."""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("glimpse.services.fsck")  # the package's name: what operators filter on


LOCK_NAME = "glimpse.lock"


class DataDirLock:
    """``<data_dir>/glimpse.lock``: held shared by each running `glimpse serve`, exclusively by fsck and by
    the start-up recovery. The kernel releases it when its process ends, however it ends (``flock``).
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._fd: int | None = None

    def _descriptor(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o640)
        return self._fd

    def _try(self, mode: int) -> bool:
        try:
            fcntl.flock(self._descriptor(), mode | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def try_exclusive(self) -> bool:
        """Take the lock alone; False when a server (or another fsck) holds it."""
        return self._try(fcntl.LOCK_EX)

    def try_shared(self) -> bool:
        """Share the lock with other servers (turning an exclusive hold into a shared one)."""
        return self._try(fcntl.LOCK_SH)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def claim_data_dir(
    lock: DataDirLock, recover: Callable[[], object], *, poll: float = 0.5, sleep: Callable[[float], None] = time.sleep
) -> bool:
    """Join the servers of a data directory, running ``recover`` first when no other server uses it.

    Returns whether ``recover`` ran. Waits while `glimpse fsck` holds the directory. On return the lock is
    held shared, for as long as this process lives.
    """
    waiting = False
    while True:
        if lock.try_exclusive():
            recover()
            while not lock.try_shared():  # fsck may slip in while an exclusive hold turns shared
                sleep(poll)
            return True
        if lock.try_shared():
            log.warning(
                "another glimpse serve uses %s: start-up recovery skipped (run `glimpse fsck` when it stops)",
                lock.path.parent,
            )
            return False
        if not waiting:
            log.warning("waiting for `glimpse fsck` to finish with %s", lock.path.parent)
            waiting = True
        sleep(poll)
