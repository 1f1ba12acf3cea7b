"""A new database of the test's backend at an older revision, with an engine on it, for upgrade tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine

from glimpse.db.engine import make_engine
from glimpse.db.migrate import upgrade
from tests.serverproc import new_database


@contextmanager
def database_at(tmp_path: Path, name: str, revision: str) -> Iterator[tuple[str, Engine]]:
    """``(url, engine)`` of a new database upgraded to ``revision``; dropped (and the engine closed) after."""
    with new_database(tmp_path, name) as url:
        upgrade(url, revision)
        engine = make_engine(url)
        try:
            yield url, engine
        finally:
            engine.dispose()
