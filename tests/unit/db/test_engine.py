"""glimpse.db.engine: a database that cannot be used right now is DatabaseUnavailable (503), not a crash."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from glimpse.db import Database
from glimpse.db.engine import is_unique_violation
from glimpse.errors import DatabaseUnavailable, Duplicate
from tests.serverproc import backend


def test_a_locked_sqlite_database_is_unavailable_after_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    db = Database(f"sqlite:///{path}", busy_timeout=0.2)
    db.run_sync(lambda s: s.execute(text("CREATE TABLE t (x INTEGER)")))
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # in WAL mode this holds the write lock; readers go on
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable, match="The database is unavailable; retry the request later"):
            db.run_sync(lambda s: s.execute(text("INSERT INTO t VALUES (1)")))
        assert 0.15 < time.monotonic() - started < 5
        assert db.run_sync(lambda s: s.execute(text("SELECT count(*) FROM t")).scalar_one()) == 0
    finally:
        holder.close()
    # once the lock is gone, the same engine writes again
    db.run_sync(lambda s: s.execute(text("INSERT INTO t VALUES (1)")))
    assert db.run_sync(lambda s: s.execute(text("SELECT count(*) FROM t")).scalar_one()) == 1
    db.dispose()


def test_an_unreachable_postgresql_server_is_unavailable() -> None:
    db = Database("postgresql://nobody@127.0.0.1:9/none")  # nothing listens on the discard port
    with pytest.raises(DatabaseUnavailable):
        db.run_sync(lambda s: s.execute(text("SELECT 1")).scalar_one())
    db.dispose()


def test_errors_in_the_work_itself_pass_through(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")

    def broken(_session: object) -> None:
        raise KeyError("not a database problem")

    with pytest.raises(KeyError):
        db.run_sync(broken)
    db.dispose()


def test_the_busy_timeout_is_applied(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}", busy_timeout=1.5)
    assert db.run_sync(lambda s: s.execute(text("PRAGMA busy_timeout")).scalar_one()) == 1500
    db.dispose()


# -- unique keys: the loser of an insert race gets a Duplicate (409), other integrity errors stay errors ------
def _insert_project(session: Session) -> None:
    session.execute(text("INSERT INTO quota_projects (project_id, claims) VALUES ('p1', 0)"))


def test_a_unique_key_violation_is_a_duplicate_with_the_callers_message(clean_db: str) -> None:
    db = Database(clean_db)
    try:
        db.run_sync(_insert_project)
        with pytest.raises(Duplicate) as caught:
            asyncio.run(db.run(_insert_project, duplicate="Project p1 exists"))
        assert caught.value.message == "Project p1 exists"
        assert isinstance(caught.value.__cause__, IntegrityError)
        assert is_unique_violation(caught.value.__cause__)
        with pytest.raises(Duplicate) as generic:
            db.run_sync(_insert_project)
        assert generic.value.message == "The resource already exists."
        # the failed transactions left nothing behind, and the engine goes on working
        assert db.run_sync(lambda s: s.execute(text("SELECT count(*) FROM quota_projects")).scalar_one()) == 1
    finally:
        db.dispose()


def test_other_integrity_errors_are_not_duplicates(clean_db: str) -> None:
    db = Database(clean_db)
    orphan = (
        "INSERT INTO image_members (image_id, member, status, created_at, updated_at) "
        "VALUES ('no-such-image', 'm', 'pending', '2026-01-01', '2026-01-01')"
    )
    try:
        with pytest.raises(IntegrityError) as foreign:
            db.run_sync(lambda s: s.execute(text(orphan)))
        assert not is_unique_violation(foreign.value)
        with pytest.raises(IntegrityError) as not_null:
            db.run_sync(lambda s: s.execute(text("INSERT INTO quota_projects (project_id) VALUES (NULL)")))
        assert not is_unique_violation(not_null.value)
    finally:
        db.dispose()


# -- a process stopped inside a transaction: PostgreSQL ends it, and its row locks with it -----------------------
@pytest.mark.skipif(backend() != "postgresql", reason="idle_in_transaction_session_timeout is PostgreSQL's")
def test_a_transaction_left_waiting_loses_its_row_locks_after_idle_in_transaction(clean_db: str) -> None:
    """A worker stopped (SIGSTOP) between two statements of a transaction held its rows locked for as long as it
    was stopped: the reaper and the retry waited on it for ever. With ``idle_in_transaction`` the server ends
    that session: the other transaction gets the row, and the stopped one finds that nothing of it was kept."""
    stopped, other = Database(clean_db, idle_in_transaction=0.5), Database(clean_db)
    other.run_sync(_insert_project)
    locked, resume = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def pause_inside(session: Session) -> None:
        session.execute(text("UPDATE quota_projects SET claims = 1 WHERE project_id = 'p1'"))
        locked.set()
        assert resume.wait(30)  # stopped here, its transaction open
        session.execute(text("SELECT 1"))

    def run_stopped() -> None:
        try:
            stopped.run_sync(pause_inside)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run_stopped)
    thread.start()
    try:
        assert locked.wait(30)

        def take_the_row(session: Session) -> None:
            session.execute(text("SET LOCAL lock_timeout = '20s'"))  # without the bound: waits until then, fails
            session.execute(text("UPDATE quota_projects SET claims = 2 WHERE project_id = 'p1'"))

        other.run_sync(take_the_row)
    finally:
        resume.set()
        thread.join(30)
    assert [type(exc) for exc in failure] == [DatabaseUnavailable]
    assert other.run_sync(lambda s: s.execute(text("SELECT claims FROM quota_projects")).scalar_one()) == 2
    assert stopped.run_sync(lambda s: s.execute(text("SELECT claims FROM quota_projects")).scalar_one()) == 2
    stopped.dispose()
    other.dispose()
