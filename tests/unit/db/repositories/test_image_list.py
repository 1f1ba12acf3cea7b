"""Image list statements are shaped so an index serves their order, on the backend under test."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from glimpse.container import Services
from glimpse.context import RequestContext
from glimpse.db.repositories.image_list import list_statement
from glimpse.db.repositories.images import _IMAGE_SELECT
from glimpse.domain.queries import parse_image_query

ADMIN = RequestContext(user_id="a", project_id="p0", roles=frozenset({"admin"}))
MEMBER = RequestContext(user_id="u", project_id="p1", roles=frozenset({"member"}))


def _plan(services: Services, viewer: RequestContext, query: str) -> str:
    parsed = parse_image_query(parse_qsl(query), default_limit=25, max_limit=1000)

    def work(session: Session) -> str:
        connection = session.connection()
        # compiled with bound parameters, as the repository runs it
        compiled = list_statement(_IMAGE_SELECT, viewer, parsed, None).compile(dialect=connection.dialect)
        params: Any = compiled.params
        if compiled.positiontup is not None:
            params = tuple(compiled.params[name] for name in compiled.positiontup)
        if connection.dialect.name == "postgresql":
            # an empty table makes any plan cheap: forbid the ones that ignore the index
            connection.execute(text("SET LOCAL enable_seqscan = off"))
            connection.execute(text("SET LOCAL enable_sort = off"))
            # and an incremental sort over ix_images_deleted_created_at (deleted, created_at): with the rows
            # earlier tests left in the statistics it can cost the same as the full walk, and was chosen once
            connection.execute(text("SET LOCAL enable_incremental_sort = off"))
            rows: Any = connection.exec_driver_sql(f"EXPLAIN {compiled}", params)
            return "\n".join(row[0] for row in rows)
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params)
        return "\n".join(str(row[-1]) for row in rows)

    plan: str = services.db.run_sync(work)
    return plan


@pytest.mark.parametrize(
    ("viewer", "query", "index"),
    [
        (ADMIN, "", "ix_images_list_created"),
        (ADMIN, "sort=name:asc,created_at:desc", "ix_images_list_name"),
        (MEMBER, "", "ix_images_visibility_list_created"),
        (MEMBER, "", "ix_images_owner_list_created"),
        (MEMBER, "sort=name:asc,created_at:desc", "ix_images_visibility_list_name"),
    ],
)
def test_list_walks_the_index_of_its_order(services: Services, viewer: RequestContext, query: str, index: str) -> None:
    plan = _plan(services, viewer, query)
    assert index in plan, plan


def test_null_name_sorts_through_a_constant_the_index_has(services: Services) -> None:
    plan = _plan(services, ADMIN, "sort=name:asc,created_at:desc")
    # a bound parameter in coalesce() would not match the expression index, so the sort would stay
    assert "TEMP B-TREE FOR ORDER BY" not in plan, plan
    assert "Sort Key" not in plan, plan
