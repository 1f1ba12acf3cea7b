"""SQLite's WAL checkpoints in a thread (db/checkpoints.py): commits no longer checkpoint the log themselves,
the thread copies what they wrote into the database file, a forked child runs its own, dispose stops it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from glimpse.db import Database, checkpoints
from glimpse.db.checkpoints import Checkpointer

ROW = "x" * 3000  # about a page a row: 1,300 rows fill more than SQLite's default 1,000-page log


def fill(db: Database, rows: int, start: int = 0) -> None:
    db.run_sync(lambda s: s.execute(text("CREATE TABLE IF NOT EXISTS t (n INTEGER PRIMARY KEY, v TEXT)")))
    for n in range(start, start + rows):
        db.run_sync(lambda s, n=n: s.execute(text("INSERT INTO t VALUES (:n, :v)"), {"n": n, "v": ROW}))


def rows_in_the_database_file(path: Path) -> int:
    """The rows the database file itself holds, its log ignored (``immutable``: no -wal, no -shm)."""
    with sqlite3.connect(f"file:{path}?immutable=1", uri=True) as conn:
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 't'").fetchone()[0]
        return int(conn.execute("SELECT count(*) FROM t").fetchone()[0]) if tables else 0


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.02)


def checkpointed(tmp_path: Path, interval: float) -> tuple[Path, Database, Checkpointer]:
    """A new database ``x.db`` whose log a thread checkpoints every ``interval`` seconds."""
    path = tmp_path / "x.db"
    db = Database(f"sqlite:///{path}", checkpoint_interval=interval)
    assert db.checkpointer is not None
    return path, db, db.checkpointer


def settled(path: Path, rows: int, monkeypatch: Any) -> tuple[Database, Checkpointer]:
    """A database at ``path`` checkpointed every 0.05 s whatever the log holds, ``rows`` rows committed, no
    commit waiting for the thread (each one was in a checkpoint that ended or is under way)."""
    monkeypatch.setattr(checkpoints, "MIN_COMMITS", 1)
    db = Database(f"sqlite:///{path}", checkpoint_interval=0.05)
    fill(db, rows)
    checkpointer = db.checkpointer
    assert checkpointer is not None
    wait_for(lambda: checkpointer.idle)
    return db, checkpointer


def test_commits_leave_the_checkpoints_to_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    db = Database(f"sqlite:///{path}", checkpoint_interval=60.0)  # one checkpoint, then a minute's wait
    assert db.checkpointer is not None
    fill(db, 1300)
    wal = path.with_name("x.db-wal").stat().st_size
    assert wal > 1300 * 3000  # every commit appended to the log: none of them checkpointed at 1,000 pages
    assert db.checkpointer.checkpoints <= 1  # the first commit's, at most
    assert rows_in_the_database_file(path) < 1300
    db.dispose()


def test_the_thread_copies_what_was_committed_into_the_database_file(tmp_path: Path, monkeypatch: Any) -> None:
    path = tmp_path / "x.db"
    db, checkpointer = settled(path, 500, monkeypatch)
    thread = checkpointer._thread
    db.dispose()  # after the checkpoint under way, if any
    assert thread is not None
    assert not thread.is_alive()
    assert checkpointer.checkpoints >= 1
    assert rows_in_the_database_file(path) == 500


def test_a_steady_stream_of_commits_still_gets_the_log_started_over(tmp_path: Path, monkeypatch: Any) -> None:
    """Passive checkpoints alone never let SQLite start the log over while commits keep coming (each one
    adds pages while the checkpoint syncs): the restart once the log is long keeps it short."""
    monkeypatch.setattr(checkpoints, "RESTART_PAGES", 200)
    monkeypatch.setattr(checkpoints, "MIN_COMMITS", 10)
    path = tmp_path / "x.db"
    db = Database(f"sqlite:///{path}", checkpoint_interval=0.02)
    db.run_sync(lambda s: s.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY, v TEXT)")))
    for n in range(1500):  # a client's pace: a millisecond between commits
        db.run_sync(lambda s, n=n: s.execute(text("INSERT INTO t VALUES (:n, :v)"), {"n": n, "v": ROW}))
        time.sleep(0.001)
    assert path.with_name("x.db-wal").stat().st_size < 800 * 4096  # 1,500 pages were written to it
    db.dispose()


def test_without_an_interval_sqlite_checkpoints_as_it_always_did(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    db = Database(f"sqlite:///{path}")
    assert db.checkpointer is None
    fill(db, 1300)
    assert path.with_name("x.db-wal").stat().st_size < 1100 * 4096  # the commits' own checkpoints kept it short
    db.dispose()


def test_a_few_commits_are_left_alone(tmp_path: Path) -> None:
    """A process that commits now and then does not checkpoint (and sync) at each of its turns."""
    path, db, checkpointer = checkpointed(tmp_path, 0.02)
    fill(db, checkpoints.MIN_COMMITS // 2)
    time.sleep(0.2)
    assert checkpointer.checkpoints == 0
    assert rows_in_the_database_file(path) == 0  # all of it still in the log
    fill(db, checkpoints.MIN_COMMITS, start=checkpoints.MIN_COMMITS // 2)
    wait_for(lambda: checkpointer.checkpoints >= 1)
    db.dispose()


def test_a_forked_child_starts_its_own_thread(tmp_path: Path, monkeypatch: Any) -> None:
    """A fork copies the checkpointer but not its thread: the child's first commit starts one. (The process id
    is what tells them apart; a real fork of the test process, which runs other tests' threads, could
    deadlock on a lock one of them held, so the child's view is made here.)"""
    path = tmp_path / "x.db"
    db, checkpointer = settled(path, 10, monkeypatch)
    parent_thread, parent_wake = checkpointer._thread, checkpointer._wake
    assert parent_thread is not None
    child_pid = os.getpid() + 1
    monkeypatch.setattr(checkpoints.os, "getpid", lambda: child_pid)
    fill(db, 200, start=10)
    wait_for(lambda: checkpointer.idle)
    own = checkpointer._thread
    db.dispose()
    parent_wake.set()  # what would be the parent's thread: it sees the stop and ends
    parent_thread.join(5)
    assert own is not None
    assert own is not parent_thread
    assert not own.is_alive()
    assert rows_in_the_database_file(path) == 210


HOLDS_THE_LOCK = """
import sqlite3, sys
other = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
try:
    other.execute("BEGIN IMMEDIATE")
except sqlite3.OperationalError as exc:
    print(exc)
else:
    print("took the write lock")
"""


def test_a_checkpoint_turn_keeps_the_locks_this_process_holds(tmp_path: Path) -> None:
    """SQLite's locks on a WAL database are POSIX locks on its ``-shm`` file, and closing any descriptor of a
    file drops every such lock the process holds on it (sqlite.org/howtocorrupt.html, 2.2). A checkpointer
    that opened and closed ``-shm`` (to read the log's length) dropped the write lock of a commit under way in
    another thread of its process: another process then wrote to the log at the same place, and commits
    that had answered were lost (seen as images created with a 201 and missing from the database). The
    checkpointer's turns must leave a held write lock held."""
    path, db, checkpointer = checkpointed(tmp_path, 0.01)
    writer = sqlite3.connect(path, isolation_level=None)  # a log long enough for a turn to checkpoint
    writer.execute("PRAGMA journal_mode=WAL")  # as the server's connections set it
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, v TEXT)")
    writer.executemany("INSERT INTO t VALUES (?, ?)", [(n, ROW) for n in range(1300)])
    holder = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # this process holds the write lock, as a commit under way does
    before = checkpointer.checkpoints
    for _ in range(checkpoints.MIN_COMMITS):
        checkpointer.committed()
    wait_for(lambda: checkpointer.checkpoints > before)
    time.sleep(0.05)  # and a few more turns
    other = subprocess.run([sys.executable, "-c", HOLDS_THE_LOCK, str(path)], capture_output=True, text=True)
    assert other.stdout.strip() == "database is locked", other.stderr
    holder.execute("ROLLBACK")
    holder.close()
    writer.close()
    db.dispose()
