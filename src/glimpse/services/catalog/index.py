"""A catalog directory's index of its assets (``DIR/index.sqlite``): every asset's TUF target by name and version,
those staged by `add` since the last `publish` and those published, so `add` checks a name and version with one
keyed lookup instead of reading the whole targets metadata (3.6 MB at 10,000 assets).

SQLite (the standard library's ``sqlite3``) because the index needs a keyed lookup, an insert that fails when the
key is taken (two adds of one version cannot both win) and a transaction for publishing many at once; it is the
publisher's local file, next to its keys, never served and not Glimpse's database. WAL with ``synchronous=NORMAL``:
a commit does not wait for the disk (the index, like the metadata files, is rebuilt from the signed targets when
it is not known to be complete).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from tuf.api.metadata import TargetFile

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS targets (name TEXT NOT NULL, version TEXT NOT NULL, staged INTEGER NOT NULL, "
    "entry TEXT NOT NULL, PRIMARY KEY (name, version))",
    "CREATE INDEX IF NOT EXISTS targets_staged ON targets (staged) WHERE staged = 1",
    "CREATE TABLE IF NOT EXISTS marks (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


def _text(target: TargetFile) -> str:
    return json.dumps({"path": target.path, "target": target.to_dict()})


def _target(text: str) -> TargetFile:
    entry = json.loads(text)
    return TargetFile.from_dict(entry["target"], entry["path"])


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class AssetIndex:
    """``DIR/index.sqlite``, over one connection opened on first use (``close()`` ends it; so does the process:
    the CLI's commands are short)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            for statement in _SCHEMA:
                conn.execute(statement)
            self._conn = conn
        yield self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def find(self, name: str, version: str) -> TargetFile | None:
        with self._connect() as conn:
            row = conn.execute("SELECT entry FROM targets WHERE name = ? AND version = ?", (name, version)).fetchone()
        return _target(row[0]) if row else None

    def stage(self, name: str, version: str, target: TargetFile) -> bool:
        """Record ``target`` as staged; False when ``name@version`` is already there (staged or published)."""
        try:
            with self._connect() as conn:
                conn.execute("INSERT INTO targets VALUES (?, ?, 1, ?)", (name, version, _text(target)))
        except sqlite3.IntegrityError:
            return False
        return True

    def staged(self) -> list[TargetFile]:
        with self._connect() as conn:
            rows = conn.execute("SELECT entry FROM targets WHERE staged = 1 ORDER BY name, version").fetchall()
        return [_target(row[0]) for row in rows]

    def complete_for(self) -> int | None:
        """The published targets version the index holds every asset of (None: not known to be complete)."""
        with self._connect() as conn:
            row = conn.execute("SELECT value FROM marks WHERE key = 'complete_for'").fetchone()
        return int(row[0]) if row else None

    def published(self, version: int, *, complete: bool) -> None:
        """The staged targets were signed as targets ``version``; ``complete``: the index holds every asset."""
        with self._connect() as conn, _transaction(conn):
            conn.execute("UPDATE targets SET staged = 0 WHERE staged = 1")
            if complete:
                conn.execute("INSERT OR REPLACE INTO marks VALUES ('complete_for', ?)", (str(version),))
            else:
                conn.execute("DELETE FROM marks WHERE key = 'complete_for'")

    def rebuild(self, entries: Iterable[tuple[str, str, TargetFile]], version: int) -> None:
        """Every published asset (name, version, target) of targets ``version``, in one transaction."""
        with self._connect() as conn, _transaction(conn):
            conn.executemany("INSERT OR IGNORE INTO targets VALUES (?, ?, 0, ?)",
                             ((n, v, _text(t)) for n, v, t in entries))  # fmt: skip
            conn.execute("INSERT OR REPLACE INTO marks VALUES ('complete_for', ?)", (str(version),))
