"""Alembic, driven from code: upgrade to head and compare the models against the migrated schema."""

from __future__ import annotations

import fcntl
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from glimpse.db.engine import make_engine
from glimpse.db.models import Base

# indexes on an expression, which reflection skips (see drift)
EXPRESSION_INDEXES = frozenset(
    {
        "ix_images_list_name",
        "ix_images_visibility_list_name",
        "ix_images_list_name_asc",
        "ix_images_visibility_list_name_asc",
        "ix_images_owner_list_name",
    }
)
MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


# the advisory lock every `upgrade` of a PostgreSQL database holds for its transaction ("glmig")
MIGRATION_LOCK = 0x676C6D6967


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate to ``revision``, one process at a time: several nodes (or a server and its workers) starting at
    once on a new (or older) database migrate it one after the other, the later ones finding it done, instead
    of racing to create the same tables (the later ones failed their start with a duplicate table). On
    PostgreSQL a transaction-scoped advisory lock; on SQLite, whose DDL alembic runs outside a transaction
    here, an exclusive ``flock`` on a file beside the database file."""
    engine = make_engine(url)
    try:
        sqlite_file = engine.url.database if engine.dialect.name == "sqlite" else None
        with _sqlite_file_lock(sqlite_file), engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


@contextmanager
def _sqlite_file_lock(database: str | None) -> Iterator[None]:
    """Held while migrating the SQLite database file ``database`` (nothing to hold for one in memory)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    path = Path(database)
    with (path.parent / f"{path.name}.migrate-lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def current_revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def _not_an_expression_index(obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
    return not (kind == "index" and name in EXPRESSION_INDEXES)


def expression_indexes(url: str) -> set[str]:
    """The expression indexes of the images table present in the database at ``url``."""
    engine = make_engine(url)
    try:
        catalog = (
            "SELECT indexname FROM pg_indexes WHERE tablename = 'images'"
            if engine.dialect.name == "postgresql"
            else "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'images'"
        )
        with engine.connect() as connection:
            names = {row[0] for row in connection.execute(text(catalog))}
        return names & EXPRESSION_INDEXES
    finally:
        engine.dispose()


def drift(url: str) -> list[Any]:
    """Differences between the models and a database migrated to head (empty when they agree).

    Expression indexes (``coalesce(name, '')``) are not reflected by SQLAlchemy: they are left out of the
    comparison on both sides, and tests/migrations checks them by name."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection, warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
            warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression-based index")
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": _not_an_expression_index}
            )
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()
