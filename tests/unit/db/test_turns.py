"""A process's SQLite write transactions take turns on a lock of its own (Database._writing, db/turns.py):
a writer meeting another thread's write transaction waits for it there, where it wakes the moment it ends,
never in SQLite's busy handler (which sleeps 1, 2, 5, 10... ms); readers do not wait."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from glimpse.db import Database
from glimpse.errors import DatabaseUnavailable


def database(path: Path, busy_timeout: float = 10.0) -> Database:
    """A database whose SQLite connections never wait for a lock themselves (busy_timeout 0): a write
    transaction that meets another one fails at once unless it waited for its turn first."""
    db = Database(f"sqlite:///{path}", busy_timeout=busy_timeout)

    @event.listens_for(db.engine, "connect")
    def no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    db.run_sync(lambda s: s.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY)")))
    return db


def holding(db: Database, n: int) -> tuple[threading.Thread, threading.Event, threading.Event]:
    """A thread inside a write transaction (its INSERT made, SQLite's write lock held) until released."""
    inside, release = threading.Event(), threading.Event()

    def work(session: Any) -> None:
        session.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
        inside.set()
        assert release.wait(10)

    thread = threading.Thread(target=db.run_sync, args=(work,))
    thread.start()
    assert inside.wait(10)
    return thread, inside, release


def test_a_second_writer_waits_for_its_turn(tmp_path: Path) -> None:
    db = database(tmp_path / "x.db")
    first, _, release = holding(db, 1)
    done = threading.Event()
    second = threading.Thread(
        target=lambda: (db.run_sync(lambda s: s.execute(text("INSERT INTO t VALUES (2)"))), done.set())
    )
    second.start()
    assert not done.wait(0.2)  # it waits (without its turn it would have failed at once: database is locked)
    release.set()
    first.join(10)
    second.join(10)
    assert done.is_set()
    assert db.run_sync(lambda s: s.execute(text("SELECT count(*) FROM t")).scalar_one()) == 2
    db.dispose()


def test_readers_do_not_wait_for_the_writers(tmp_path: Path) -> None:
    db = database(tmp_path / "x.db")
    first, _, release = holding(db, 1)
    try:
        # WAL: a read sees the last commit while the write goes on
        assert db.read_sync(lambda s: s.execute(text("SELECT count(*) FROM t")).scalar_one()) == 0
    finally:
        release.set()
        first.join(10)
    db.dispose()


def test_a_turn_that_does_not_come_is_the_database_being_unavailable(tmp_path: Path) -> None:
    db = database(tmp_path / "x.db", busy_timeout=0.2)
    first, _, release = holding(db, 1)
    try:
        with pytest.raises(DatabaseUnavailable):
            db.run_sync(lambda s: s.execute(text("INSERT INTO t VALUES (2)")))
    finally:
        release.set()
        first.join(10)
    db.dispose()


def test_a_transaction_inside_another_on_the_same_thread_does_not_wait_for_itself(tmp_path: Path) -> None:
    db = database(tmp_path / "x.db")

    def outer(session: Any) -> int:
        return db.run_sync(lambda s: s.execute(text("SELECT count(*) FROM t")).scalar_one())

    assert db.run_sync(outer) == 0
    db.dispose()
