"""glimpse.db.replica: reads a replica cannot serve go to the primary; a write is never sent there."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from glimpse.context import Caller, current_caller
from glimpse.db import Database
from glimpse.db import engine as engine_module
from glimpse.db.engine import make_replica_engine
from glimpse.db.replica import Positions, Replica, ReplicaUnusable
from tests.pgreplica import ReplicaControl

T = TypeVar("T")

DEAD = "postgresql://nobody@127.0.0.1:9/none"  # nothing listens on the discard port


def _one(session: Session) -> int:
    return int(session.execute(text("SELECT 1")).scalar_one())


def test_an_unreachable_replica_is_left_alone_for_a_while_then_tried_again() -> None:
    replica = Replica(make_replica_engine(DEAD), retry_after=0.3)
    attempts: list[object] = []

    def count(*_args: Any) -> None:
        attempts.append(None)

    event.listen(replica.engine, "do_connect", count)
    try:
        with pytest.raises(ReplicaUnusable):
            replica.read(_one)
        assert len(attempts) == 1
        with pytest.raises(ReplicaUnusable):
            replica.read(_one)
        assert len(attempts) == 1  # no new connection attempt within retry_after
        time.sleep(0.35)
        with pytest.raises(ReplicaUnusable):
            replica.read(_one)
        assert len(attempts) == 2
    finally:
        replica.dispose()


def test_reads_go_to_the_primary_when_the_replica_is_unreachable(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}", replica_url=DEAD)
    try:
        assert asyncio.run(db.read(lambda s: s.execute(text("SELECT sqlite_version()")).scalar_one()))
    finally:
        db.dispose()


def test_without_a_replica_reads_run_on_the_primary(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        assert db.replica is None
        assert asyncio.run(db.read(_one)) == 1
    finally:
        db.dispose()


def test_a_write_in_a_read_is_refused_and_not_tried_on_the_primary(clean_db: str) -> None:
    if not clean_db.startswith("postgresql"):
        pytest.skip("a read replica is a PostgreSQL standby: GLIMPSE_TEST_DB=postgresql runs this")
    db = Database(clean_db, replica_url=clean_db)  # even a writable server is written through no read
    insert = "INSERT INTO quota_projects (project_id, claims) VALUES ('p1', 0)"
    try:
        with pytest.raises(DBAPIError, match="read-only transaction"):
            db.read_sync(lambda s: s.execute(text(insert)))
        assert db.run_sync(lambda s: s.execute(text("SELECT count(*) FROM quota_projects")).scalar_one()) == 0
    finally:
        db.dispose()


def test_a_read_the_replica_cannot_answer_yet_goes_to_the_primary_alone(pg_replica: ReplicaControl) -> None:
    db = Database(pg_replica.primary_url, replica_url=pg_replica.url)
    assert db.replica is not None
    count = text("SELECT count(*) FROM replica_probe")
    try:
        with pg_replica.paused(), pg_replica.primary.connect() as conn:
            # a table the paused replica has not replayed: as after a migration the replica has not caught up with
            conn.execute(text("CREATE TABLE replica_probe AS SELECT 1 AS x"))
            assert db.read_sync(lambda s: s.execute(count).scalar_one()) == 1
            # the replica answered, so it is not left alone: the next read is its own
            assert db.read_sync(lambda s: s.execute(text("SELECT pg_is_in_recovery()")).scalar_one()) is True
    finally:
        with pg_replica.primary.connect() as conn:
            conn.execute(text("DROP TABLE IF EXISTS replica_probe"))
        db.dispose()


# -- read-your-writes: Positions, with a clock of the test's own ---------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_caller_needs_its_own_changes_until_the_replica_is_seen_past_them() -> None:
    positions = Positions(max_lag=0, clock=Clock())
    positions.wrote("alice@alpha", 1000)
    positions.wrote("alice@alpha", 900)  # a change that committed earlier, recorded later
    positions.wrote(None, 5000)  # the worker's: nobody's own
    assert positions.needed("alice@alpha") == 1000
    assert positions.needed("carol@alpha") == 0
    assert positions.needed(None) == 0
    assert positions.needed("alice@alpha", seen=1200) == 1200  # a change made through another process
    assert positions.needed("carol@alpha", seen=900) == 900
    positions.saw(999)
    assert positions.needed("alice@alpha") == 1000
    assert positions.needed("carol@alpha", seen=900) == 0
    positions.saw(1000)
    assert positions.needed("alice@alpha") == 0
    positions.wrote("alice@alpha", 1000)  # already replayed: nothing to wait for
    assert positions.needed("alice@alpha") == 0
    positions.saw(10)  # an older answer changes nothing
    assert positions.replayed == 1000


def test_a_change_older_than_max_lag_that_the_replica_lacks_sends_everyone_to_the_primary() -> None:
    clock = Clock()
    positions = Positions(max_lag=2.0, clock=clock)
    positions.wrote(None, 700)
    positions.wrote("alice@alpha", 800)
    clock.now += 1.9
    assert (positions.needed("carol@alpha"), positions.needed("alice@alpha")) == (0, 800)
    clock.now += 0.2
    assert (positions.needed("carol@alpha"), positions.needed("alice@alpha"), positions.needed(None)) == (800, 800, 800)
    positions.saw(800)
    assert (positions.needed("carol@alpha"), positions.needed("alice@alpha")) == (0, 0)


def test_a_process_that_only_writes_remembers_max_lag_seconds_of_changes() -> None:
    clock = Clock()
    positions = Positions(max_lag=2.0, clock=clock)
    for position in range(1, 1001):  # the worker: a change every 1/64 s (exact in binary), never a read
        positions.wrote(None, position)
        clock.now += 1 / 64
    assert len(positions) == 128  # the last 2 s of changes, when the last one was written
    assert positions.needed(None) == 873  # written 2 s ago or more, and not seen replayed


def test_without_max_lag_a_change_is_never_overdue() -> None:
    clock = Clock()
    positions = Positions(max_lag=0, clock=clock)
    positions.wrote("alice@alpha", 800)
    clock.now += 86400
    assert (positions.needed("carol@alpha"), positions.needed("alice@alpha")) == (0, 800)


# -- read-your-writes against the real replica ---------------------------------------------------------------
def _insert(name: str) -> Callable[[Session], None]:
    def insert(session: Session) -> None:
        session.execute(text("INSERT INTO quota_projects (project_id, claims) VALUES (:p, 0)"), {"p": name})

    return insert


def _projects(session: Session) -> list[str]:
    return list(session.execute(text("SELECT project_id FROM quota_projects ORDER BY 1")).scalars())


def as_caller(caller: str, work: Callable[[], T]) -> T:
    token = current_caller.set(Caller(caller))
    try:
        return work()
    finally:
        current_caller.reset(token)


def test_a_callers_reads_include_its_own_changes_while_the_replica_lags(pg_replica: ReplicaControl) -> None:
    db = Database(pg_replica.primary_url, replica_url=pg_replica.url)
    assert db.replica is not None
    try:
        db.run_sync(_insert("p0"))
        pg_replica.caught_up()
        with pg_replica.paused():
            as_caller("alice@alpha", lambda: db.run_sync(_insert("p1")))
            as_caller("dave@delta", lambda: db.run_sync(_projects))  # a unit of work that only read
            assert db.replica.positions.needed("alice@alpha") > 0
            assert db.replica.positions.needed("dave@delta") == 0
            assert as_caller("alice@alpha", lambda: db.read_sync(_projects)) == ["p0", "p1"]  # on the primary
            assert as_caller("carol@alpha", lambda: db.read_sync(_projects)) == ["p0"]  # the paused replica
            assert as_caller("bob@beta", lambda: db.read_sync(_projects)) == ["p0"]
        pg_replica.caught_up()
        assert as_caller("alice@alpha", lambda: db.read_sync(_projects)) == ["p0", "p1"]  # the replica again
        assert db.replica.positions.needed("alice@alpha") == 0
    finally:
        db.dispose()


def test_a_committed_change_whose_position_cannot_be_read_still_succeeds(
    clean_db: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    if not clean_db.startswith("postgresql"):
        pytest.skip("a read replica is a PostgreSQL standby: GLIMPSE_TEST_DB=postgresql runs this")
    monkeypatch.setattr(engine_module, "_WRITTEN", text("SELECT 1 / 0"))  # the position query fails for real
    db = Database(clean_db, replica_url=DEAD)
    assert db.replica is not None
    try:
        as_caller("alice@alpha", lambda: db.run_sync(_insert("p1")))
        assert db.run_sync(_projects) == ["p1"]
        assert db.replica.positions.needed("alice@alpha") == 0  # nothing known to wait for
        assert "a change committed but its log position is unknown: division by zero" in caplog.text
    finally:
        db.dispose()
