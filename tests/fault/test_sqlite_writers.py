"""Several processes writing one SQLite database at once, each with its checkpoint thread (db/checkpoints.py),
as a server, its task worker and a `glimpse worker` do: every commit is in the database and it is intact.

With the checkpointer of 3d0f688, which read the log's length by opening and closing the ``-shm`` file (and so
dropped its process's locks on it), this lost commits, killed writers with SIGBUS or left the database
malformed within a second (2026-12-07); the unit test in tests/unit/db/test_checkpoints.py shows the mechanism.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

WRITER = """
import sys
from sqlalchemy import text
from glimpse.db import Database
db = Database(f"sqlite:///{sys.argv[1]}", checkpoint_interval=0.005)
for n in range(int(sys.argv[3])):
    db.run_sync(lambda s, n=n: s.execute(
        text("INSERT INTO t (w, n, v) VALUES (:w, :n, :v)"), {"w": sys.argv[2], "n": n, "v": "x" * 2000}))
db.dispose()
"""
WRITERS = 3
COMMITS = 1500


def test_concurrent_writers_lose_no_commit(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (w TEXT, n INTEGER, v TEXT, PRIMARY KEY (w, n))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    command = [sys.executable, "-c", WRITER, str(path)]
    writers = [
        subprocess.Popen([*command, f"w{i}", str(COMMITS)], env=env, stderr=subprocess.PIPE, text=True)
        for i in range(WRITERS)
    ]
    outcomes = [(writer.wait(120), writer.stderr.read() if writer.stderr else "") for writer in writers]
    for writer in writers:
        if writer.stderr:
            writer.stderr.close()
    assert [code for code, _ in outcomes] == [0] * WRITERS, [err[-2000:] for _, err in outcomes]
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        counts = dict(check.execute("SELECT w, count(*) FROM t GROUP BY w").fetchall())
    assert counts == {f"w{i}": COMMITS for i in range(WRITERS)}
