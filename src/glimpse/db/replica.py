"""The read replica (``[database] slave_connection``): a PostgreSQL streaming replica that serves reads.

Only units of work run with :meth:`glimpse.db.Database.read` come here (the image lists and shows); every
other one, and so every write, runs on the primary. Every transaction on the replica is read-only
(``default_transaction_read_only``), so a write sent here by mistake fails instead of landing anywhere.

A replica that cannot serve a read never fails the request: the read runs on the primary instead. When the
replica cannot be reached (refused, timed out, connection dropped), it is left alone for ``retry_after``
seconds, so one request per interval pays for the connection attempt; a read the replica refused for another
reason (a query cancelled by a conflict with recovery, a schema the replica has not replayed yet) goes to
the primary alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

T = TypeVar("T")

# seconds the replica is left alone after it could not be reached
RETRY_AFTER = 5.0
# SQLSTATEs of a replica that answers but refused this one query: serialization_failure (a conflict with
# recovery), query_canceled
_REFUSALS = ("40001", "57014")
# read_only_sql_transaction: the work tried to write; a bug to report, never to retry on the primary
_WRITE_REFUSED = "25006"


class ReplicaUnusable(Exception):
    """The replica cannot serve this read: run it on the primary."""


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

    def __init__(self, engine: Engine, *, retry_after: float = RETRY_AFTER) -> None:
        self.engine = engine
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.retry_after = retry_after
        self._down_until = 0.0

    def read(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` in one read-only transaction on the replica; ReplicaUnusable when the replica
        cannot serve it (the caller then reads from the primary). Errors of the work itself pass through."""
        if time.monotonic() < self._down_until:
            raise ReplicaUnusable("the replica was unreachable moments ago")
        try:
            with self._sessions.begin() as session:
                return work(session)
        except (sa_exc.DBAPIError, sa_exc.DisconnectionError, sa_exc.TimeoutError) as exc:
            if isinstance(exc, sa_exc.DBAPIError) and getattr(exc.orig, "sqlstate", None) == _WRITE_REFUSED:
                raise
            cause = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig else exc
            if _is_outage(exc):
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
            raise ReplicaUnusable(_first_line(cause)) from exc

    def dispose(self) -> None:
        self.engine.dispose()
