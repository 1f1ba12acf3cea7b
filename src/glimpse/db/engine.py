"""Engine, sessions and the unit of work. Blocking database calls run in worker threads."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from glimpse.context import current_caller
from glimpse.db.checkpoints import BACKSTOP_PAGES, LOG_SIZE_LIMIT, Checkpointer
from glimpse.db.replica import Replica, ReplicaUnusable
from glimpse.db.writers import WriterLocks
from glimpse.errors import DatabaseUnavailable, Duplicate

log = logging.getLogger(__name__)

T = TypeVar("T")

# Units of work run on anyio's worker threads (40 at most), so the pool keeps as many connections as can be
# busy at once: a smaller pool makes overflow connections that are opened and closed on every request.
POOL_SIZE = 20
POOL_OVERFLOW = 20

DEFAULT_BUSY_TIMEOUT = 30.0
PG_CONNECT_TIMEOUT = 10  # seconds: an unreachable server fails the request instead of hanging it
REPLICA_CONNECT_TIMEOUT = 2  # seconds: a read replica that does not answer sends the read to the primary

DUPLICATE = "The resource already exists."
PG_UNIQUE_VIOLATION = "23505"  # SQLSTATE unique_violation
SQLITE_UNIQUE_ERRORS = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})


def _sqlite_pragmas(busy_timeout: float, checkpoints: bool) -> Callable[[Any, Any], None]:
    def apply(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        if checkpoints:  # a Checkpointer's thread checkpoints; the commits' own only as a backstop
            cursor.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
            cursor.execute(f"PRAGMA journal_size_limit={LOG_SIZE_LIMIT}")
        cursor.close()

    return apply


def make_engine(
    url: str,
    *,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    connect_timeout: int = PG_CONNECT_TIMEOUT,
    read_only: bool = False,
    idle_in_transaction: float | None = None,
    checkpoints: bool = False,
) -> Engine:
    """``busy_timeout`` (seconds): how long SQLite waits for another connection's lock before failing;
    ``connect_timeout`` (seconds): how long a PostgreSQL connection may take unless the URL says;
    ``read_only``: every PostgreSQL transaction is read-only (a replica's engine: a write is refused);
    ``idle_in_transaction`` (seconds): PostgreSQL ends the session of a transaction that waits this long for
    its next statement (its process is stopped or hung), so the row locks it took are not held forever;
    ``checkpoints`` (SQLite): a :class:`~glimpse.db.checkpoints.Checkpointer` checkpoints the log, the
    connections' own automatic checkpoint is only a backstop."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False}, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW
        )
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout, checkpoints))
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = connect_timeout
    if parsed.get_backend_name() == "postgresql":
        options = ["-c default_transaction_read_only=on"] if read_only else []
        if idle_in_transaction:
            options.append(f"-c idle_in_transaction_session_timeout={max(1, round(idle_in_transaction * 1000))}")
        if options:
            connect_args["options"] = " ".join(options)
    return create_engine(
        url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, pool_pre_ping=True, connect_args=connect_args
    )


def make_replica_engine(url: str) -> Engine:
    """The read replica's engine: a short connection timeout (the primary can serve the read meanwhile), every
    transaction read-only."""
    return make_engine(url, connect_timeout=REPLICA_CONNECT_TIMEOUT, read_only=True)


_WROTE = "glimpse.wrote"
# statements that change nothing: anything else marks the connection's transaction as a change
_READS = re.compile(r"\s*(SELECT|SHOW|SET|SAVEPOINT|RELEASE|ROLLBACK|BEGIN|COMMIT)\b", re.IGNORECASE)
# where the primary's log ends (bytes), once a change has committed: a replica that has replayed this far has it
_WRITTEN = text("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn")


def _note_writes(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    if not _READS.match(statement):
        conn.info[_WROTE] = True


def _is_unavailable(exc: sa_exc.DBAPIError) -> bool:
    """The database could not be reached, dropped the connection, or stayed locked (SQLite busy)."""
    return isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError) or exc.connection_invalidated


def is_unique_violation(exc: sa_exc.IntegrityError) -> bool:
    """A unique or primary key was violated (not a foreign key, NOT NULL or CHECK): psycopg's SQLSTATE 23505,
    sqlite3's extended error name (Python >= 3.11)."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) == PG_UNIQUE_VIOLATION:
        return True
    return getattr(orig, "sqlite_errorname", None) in SQLITE_UNIQUE_ERRORS


_AFTER_COMMIT = "glimpse.after_commit"


def after_commit(session: Session, hook: Callable[[], object]) -> None:
    """Run ``hook()`` once the transaction of ``session`` has committed (never when it rolls back).

    Hooks of a unit of work run by :meth:`Database.run` run on the event loop's thread, in the order they
    were added, so they may set asyncio events or schedule work; a hook's exception is logged, not raised.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(hook)


def _run_hooks(hooks: list[Callable[[], object]]) -> None:
    for hook in hooks:
        try:
            hook()
        except Exception:
            log.exception("after-commit hook %r failed", hook)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class Database:
    """Owns the engine (and the read replica's, if any); runs a function in one transaction on a worker
    thread."""

    def __init__(
        self,
        url: str,
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        replica_url: str | None = None,
        replica_max_lag: float = 0.0,
        on_replica_read: Callable[[str | None], None] | None = None,
        idle_in_transaction: float | None = None,
        checkpoint_interval: float = 0.0,
    ) -> None:
        """``replica_url``: a PostgreSQL streaming replica of this (PostgreSQL) database for ``read``;
        ``replica_max_lag`` (seconds, 0: no bound): how old a change it has not replayed may be before every
        read goes to the primary (db/replica.py); ``on_replica_read(reason)``: told of each read the replica
        served (None) or left to the primary (unavailable, refused, behind); ``idle_in_transaction`` (seconds,
        PostgreSQL): how long a transaction of this process may wait between its statements before the server
        ends it (see make_engine): a process stopped inside one then blocks no other node for longer;
        ``checkpoint_interval`` (seconds, SQLite; 0: none): the log is checkpointed in a thread of this process
        at most this often while it commits (db/checkpoints.py) rather than by the commit that fills it."""
        self.url = url
        path = make_url(url).database if make_url(url).get_backend_name() == "sqlite" else None
        self.checkpointer = (
            Checkpointer(path, checkpoint_interval) if checkpoint_interval > 0 and path and path != ":memory:" else None
        )
        self.engine = make_engine(
            url, busy_timeout=busy_timeout, idle_in_transaction=idle_in_transaction,
            checkpoints=self.checkpointer is not None,
        )  # fmt: skip
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # which images live processes are writing, told across nodes (PostgreSQL only: db/writers.py)
        self.writers = WriterLocks(self.engine if self.engine.dialect.name == "postgresql" else None)
        self.replica: Replica | None = None
        self._on_replica_read = on_replica_read or (lambda _reason: None)
        if replica_url:
            self.replica = Replica(make_replica_engine(replica_url), max_lag=replica_max_lag)
            if self.dialect == "postgresql":  # where a change ends in the log is known only there
                event.listen(self.engine, "before_cursor_execute", _note_writes)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def run_sync(self, work: Callable[[Session], T]) -> T:
        """Run ``work(session)`` in one transaction, then its after-commit hooks; DatabaseUnavailable when the
        database cannot be used now, Duplicate (a 409) when it breaks a unique key: the way a request that
        checked first still loses a race against another one inserting the same key."""
        result, hooks = self.transaction(work)
        _run_hooks(hooks)
        return result

    def transaction(self, work: Callable[[Session], T]) -> tuple[T, list[Callable[[], object]]]:
        """``work(session)`` in one transaction, and the after-commit hooks it registered (not yet run)."""
        try:
            if self.replica is not None and self.dialect == "postgresql":
                return self._tracked(work)
            with self._sessions.begin() as session:
                hooks: list[Callable[[], object]] = []
                session.info[_AFTER_COMMIT] = hooks
                result = work(session)
            if self.checkpointer is not None:
                self.checkpointer.committed()
            return result, hooks
        except sa_exc.IntegrityError as exc:
            if not is_unique_violation(exc):
                raise
            log.info("unique key violated: %s", _first_line(exc.orig or exc))
            raise Duplicate(DUPLICATE) from exc
        except (sa_exc.DisconnectionError, sa_exc.TimeoutError) as exc:
            log.warning("database unavailable: %s", exc)
            raise DatabaseUnavailable("The database is unavailable; retry the request later.") from exc
        except sa_exc.DBAPIError as exc:
            if not _is_unavailable(exc):
                raise
            log.warning("database unavailable: %s", _first_line(exc.orig or exc))
            raise DatabaseUnavailable("The database is unavailable; retry the request later.") from exc

    def _tracked(self, work: Callable[[Session], T]) -> tuple[T, list[Callable[[], object]]]:
        """``transaction`` with a read replica: when the work changed something, where its commit ends in the
        primary's log is remembered for the caller, on the same connection right after the commit."""
        assert self.replica is not None
        with self.engine.connect() as conn:
            conn.info[_WROTE] = False
            with self._sessions(bind=conn) as session, session.begin():
                hooks: list[Callable[[], object]] = []
                session.info[_AFTER_COMMIT] = hooks
                result = work(session)
            if conn.info[_WROTE]:
                self._remember_position(conn)
        return result, hooks

    def _remember_position(self, conn: Connection) -> None:
        """Where the primary's log ends now, for the caller: one round trip, no transaction around it. The
        change has committed, so a failure here only costs read-your-writes for this change (logged)."""
        assert self.replica is not None
        try:
            position = int(conn.execution_options(isolation_level="AUTOCOMMIT").execute(_WRITTEN).scalar_one())
        except sa_exc.DBAPIError as exc:
            log.warning("a change committed but its log position is unknown: %s", _first_line(exc.orig or exc))
            return
        caller = current_caller.get()
        self.replica.positions.wrote(caller.key if caller is not None else None, position)
        if caller is not None:
            caller.wrote = max(caller.wrote, position)

    async def run(self, work: Callable[[Session], T], *, duplicate: str | None = None) -> T:
        """Run ``work(session)`` inside one transaction, off the event loop (see ``run_sync``), then its
        after-commit hooks on the loop; a broken unique key is a Duplicate with the message ``duplicate`` (the
        caller's words for what already exists)."""
        try:
            result, hooks = await anyio.to_thread.run_sync(functools.partial(self.transaction, work))
        except Duplicate as exc:
            if duplicate is None:
                raise
            raise Duplicate(duplicate) from exc.__cause__
        _run_hooks(hooks)
        return result

    def read_sync(self, work: Callable[[Session], T]) -> T:
        """Run ``work(session)``, which only reads, on the read replica when there is one and it can serve
        it, else on the primary (see ``run_sync``)."""
        if self.replica is not None:
            try:
                result = self.replica.read(work, current_caller.get())
            except ReplicaUnusable as exc:
                self._on_replica_read(exc.reason)
            except Exception:  # the replica answered; the work itself failed (an image not found)
                self._on_replica_read(None)
                raise
            else:
                self._on_replica_read(None)
                return result
        return self.run_sync(work)

    async def read(self, work: Callable[[Session], T]) -> T:
        """``read_sync`` off the event loop: the lists and shows, which a replica may serve."""
        if self.replica is None:
            return await self.run(work)
        return await anyio.to_thread.run_sync(functools.partial(self.read_sync, work))

    async def check(self) -> None:
        """Health probe for /healthcheck: a trivial query; raises when the database cannot answer it."""
        await self.run(lambda session: session.execute(text("SELECT 1")).scalar_one())

    async def check_replica(self) -> None:
        """Health probe of the read replica: a trivial query on it; raises when it cannot answer one."""
        replica = self.replica
        assert replica is not None
        await anyio.to_thread.run_sync(replica.check)

    def dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.close()
        self.writers.close()
        self.engine.dispose()
        if self.replica is not None:
            self.replica.dispose()
