"""The read replica (``[database] slave_connection``): a PostgreSQL streaming replica that serves reads.

Only units of work run with :meth:`glimpse.db.Database.read` come here (the image lists and shows); every
other one, and so every write, runs on the primary. Every transaction on the replica is read-only
(``default_transaction_read_only``), so a write sent here by mistake fails instead of landing anywhere.

A replica that cannot serve a read never fails the request: the read runs on the primary instead. When the
replica cannot be reached (refused, timed out, connection dropped), it is left alone for ``retry_after``
seconds, so one request per interval pays for the connection attempt; a read the replica refused for another
reason (a query cancelled by a conflict with recovery, a schema the replica has not replayed yet) goes to
the primary alone.

Read-your-writes: after a unit of work of a caller (``glimpse.context.current_caller``) changed something, the
primary's log position after its commit is remembered for that caller (``Positions``); that caller's reads go
to the replica only when its first statement there (``pg_last_wal_replay_lsn()``) shows the replica has
replayed that far, else to the primary. The furthest position the replica is known to have replayed is
remembered too, so a caller whose changes it has passed costs nothing more. The same bounds every caller's
staleness: a change made through this process more than ``max_lag`` seconds ago that the replica has not
replayed yet sends every read to the primary until it has.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from glimpse.context import Caller
from glimpse.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

# seconds the replica is left alone after it could not be reached
RETRY_AFTER = 5.0
# SQLSTATEs of a replica that answers but refused this one query: serialization_failure (a conflict with
# recovery), query_canceled
_REFUSALS = ("40001", "57014")
# read_only_sql_transaction: the work tried to write; a bug to report, never to retry on the primary
_WRITE_REFUSED = "25006"


# how far the replica has replayed the primary's log, in bytes (NULL on a server that is not a standby)
_REPLAYED = text("SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn")


class ReplicaUnusable(Exception):
    """The replica cannot serve this read: run it on the primary. ``reason``: unavailable, refused, behind."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class Positions:
    """Where the changes made through this process end in the primary's log (bytes), by caller, and how far
    the replica is known to have replayed it. Thread-safe: units of work run on many threads."""

    def __init__(self, max_lag: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_lag = max_lag  # seconds; 0: no bound
        self._clock = clock
        self._lock = threading.Lock()
        self._callers: dict[str, int] = {}  # caller -> the end of their last change the replica may lack
        self._recent: deque[tuple[float, int]] = deque()  # (when, position) of changes the replica may lack
        self._overdue = 0  # the furthest position written more than max_lag seconds ago
        self.replayed = 0  # the furthest position the replica was seen to have replayed

    def __len__(self) -> int:
        """How many changes are remembered: a caller's last, and those younger than max_lag."""
        return len(self._callers) + len(self._recent)

    def wrote(self, caller: str | None, position: int) -> None:
        with self._lock:
            if position <= self.replayed:
                return
            if caller is not None:
                self._callers[caller] = max(position, self._callers.get(caller, 0))
            if self.max_lag:
                self._recent.append((self._clock(), position))
                self._expire()  # a process that only writes (the worker) keeps max_lag seconds of changes

    def _expire(self) -> bool:
        """Fold the changes older than max_lag into the overdue position; whether there were any."""
        deadline = self._clock() - self.max_lag
        if not self._recent or self._recent[0][0] > deadline:
            return False
        while self._recent and self._recent[0][0] <= deadline:
            self._overdue = max(self._overdue, self._recent.popleft()[1])
        return True

    def needed(self, caller: str | None, seen: int = 0) -> int:
        """How far the replica must have replayed to serve this caller's read (0: it may serve it as it is);
        ``seen``: a position the caller's client says its changes through another process end at."""
        with self._lock:
            if self.max_lag and self._expire():
                # what the overdue position covers needs no entry of its own
                self._callers = {who: end for who, end in self._callers.items() if end > self._overdue}
            own = self._callers.get(caller, 0) if caller is not None else 0
            needed = max(own, self._overdue, seen)
            return needed if needed > self.replayed else 0

    def saw(self, replayed: int) -> None:
        """The replica has replayed up to ``replayed``: what that covers is forgotten."""
        with self._lock:
            if replayed <= self.replayed:
                return
            self.replayed = replayed
            self._callers = {who: end for who, end in self._callers.items() if end > replayed}
            while self._recent and self._recent[0][1] <= replayed:
                self._recent.popleft()


def _is_outage(exc: Exception) -> bool:
    """The replica is unreachable or dropped the connection (as opposed to refusing one query)."""
    if isinstance(exc, sa_exc.DisconnectionError):
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False  # a pool timeout: the replica is busy, not gone
    if getattr(exc.orig, "sqlstate", None) in _REFUSALS:
        return False
    return isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError) or exc.connection_invalidated


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class Replica:
    """The replica's engine, and whether it may be tried now."""

    def __init__(self, engine: Engine, *, max_lag: float = 0.0, retry_after: float = RETRY_AFTER) -> None:
        self.engine = engine
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.positions = Positions(max_lag)
        self.retry_after = retry_after
        self._down_until = 0.0

    def read(self, work: Callable[[Session], T], caller: Caller | None = None) -> T:
        """``work(session)`` in one read-only transaction on the replica, once it has replayed what ``caller``
        must see; ReplicaUnusable when the replica cannot serve it (the caller then reads from the primary).
        Errors of the work itself pass through."""
        if time.monotonic() < self._down_until:
            raise ReplicaUnusable("the replica was unreachable moments ago", "unavailable")
        needed = self.positions.needed(caller.key, caller.seen) if caller is not None else self.positions.needed(None)
        try:
            with self._sessions.begin() as session:
                if needed:
                    replayed = session.execute(_REPLAYED).scalar_one()
                    if replayed is not None:  # None: not a standby, it has everything
                        self.positions.saw(int(replayed))
                        if replayed < needed:
                            raise ReplicaUnusable(f"the replica has replayed {replayed} of {needed} bytes", "behind")
                return work(session)
        except (sa_exc.DBAPIError, sa_exc.DisconnectionError, sa_exc.TimeoutError) as exc:
            if isinstance(exc, sa_exc.DBAPIError) and getattr(exc.orig, "sqlstate", None) == _WRITE_REFUSED:
                raise
            cause = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig else exc
            if outage := _is_outage(exc):
                self._down_until = time.monotonic() + self.retry_after
                log.warning(
                    "the read replica is unavailable, reading from the primary for %.0f s: %s",
                    self.retry_after,
                    _first_line(cause),
                )
            else:
                log.warning(
                    "the read replica could not serve a read, reading it from the primary: %s", _first_line(cause)
                )
            raise ReplicaUnusable(_first_line(cause), "unavailable" if outage else "refused") from exc

    def check(self) -> None:
        """A trivial query on the replica (the health probe); raises DatabaseUnavailable when it cannot answer."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except (sa_exc.DBAPIError, sa_exc.DisconnectionError, sa_exc.TimeoutError) as exc:
            cause = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig else exc
            log.warning("the read replica does not answer: %s", _first_line(cause))
            raise DatabaseUnavailable("The read replica is unavailable; reads go to the primary.") from exc

    def dispose(self) -> None:
        self.engine.dispose()
