"""Migration 0017 leaves its indexes with statistics where the images table had them. On SQLite an index without
statistics next to analyzed ones looks ten rows deep: the planner took the new name index for every list (the
admin's first page at 100,000 images went from 2 to 354 ms) until ANALYZE."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import sqlalchemy as sa

from glimpse.context import RequestContext
from glimpse.db.engine import make_engine
from glimpse.db.migrate import upgrade
from glimpse.db.repositories.image_list import list_statement
from glimpse.db.repositories.images import _IMAGE_SELECT
from glimpse.domain.queries import parse_image_query
from tests.migrations.upgrades import database_at
from tests.serverproc import backend
from tests.unit.db.repositories.plans import explain

BEFORE = "0016_expand_artifact_list_index"
NEW_INDEXES = {"ix_images_list_name_asc", "ix_images_visibility_list_name_asc", "ix_images_owner_list_name"}
ADMIN = RequestContext(user_id="a", project_id="p0", roles=frozenset({"admin"}))
IMAGES = """INSERT INTO images (id, name, status, visibility, protected, os_hidden, min_disk, min_ram, owner,
    created_at, updated_at, deleted) VALUES (:id, :name, 'active', 'private', false, false, 0, 0, :owner, :at, :at,
    false)"""


def _catalogue(connection: sa.Connection, count: int = 300) -> None:
    connection.execute(
        sa.text(IMAGES),
        [
            {"id": f"image-{i:05}", "name": f"n{i % 17}", "owner": f"p{i % 10}", "at": f"2026-01-01 00:{i // 60:02}"}
            for i in range(count)
        ],
    )


def _analyzed(connection: sa.Connection) -> set[str]:
    if connection.dialect.name == "postgresql":
        # ANALYZE keeps statistics of an index's expressions (coalesce(name, '')) under the index's name
        rows = connection.execute(sa.text("SELECT DISTINCT tablename FROM pg_stats WHERE tablename LIKE 'ix_images%'"))
    else:
        rows = connection.execute(sa.text("SELECT idx FROM sqlite_stat1 WHERE tbl = 'images'"))
    return {row[0] for row in rows}


def test_upgrade_of_an_analyzed_catalogue_analyzes_the_new_indexes(tmp_path: Path) -> None:
    with database_at(tmp_path, "glimpse_list_stats", BEFORE) as (url, engine):
        with engine.begin() as connection:
            _catalogue(connection)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("ANALYZE"))
        upgrade(url)
        query = parse_image_query(parse_qsl(""), default_limit=25, max_limit=1000)
        with engine.begin() as connection:
            assert _analyzed(connection) >= NEW_INDEXES
            plan = explain(connection, list_statement(_IMAGE_SELECT, ADMIN, query, None), forbidden=())
    # newest first still walks the created_at index, with no sort
    assert "ix_images_list_created" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
    assert "Sort" not in plan, plan


@pytest.mark.skipif(backend() != "sqlite", reason="PostgreSQL's autovacuum analyzes every table; SQLite only when told")
def test_upgrade_of_a_never_analyzed_sqlite_catalogue_leaves_it_unanalyzed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'glimpse.db'}"
    upgrade(url, BEFORE)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            _catalogue(connection)
        upgrade(url)
        with engine.connect() as connection:
            tables = {row[0] for row in connection.execute(sa.text("SELECT name FROM sqlite_master"))}
    finally:
        engine.dispose()
    # statistics for three indexes alone would make them look ten rows deep next to the others
    assert "sqlite_stat1" not in tables
