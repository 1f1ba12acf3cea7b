"""Image list statements are shaped so an index serves their order, on the backend under test."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import parse_qsl

import pytest
from sqlalchemy.orm import Session

from glimpse.container import Services
from glimpse.context import RequestContext
from glimpse.db.repositories.image_list import list_statement
from glimpse.db.repositories.images import _IMAGE_SELECT
from glimpse.domain.images import Image
from glimpse.domain.queries import parse_image_query
from tests.unit.db.repositories.plans import explain

ADMIN = RequestContext(user_id="a", project_id="p0", roles=frozenset({"admin"}))
MEMBER = RequestContext(user_id="u", project_id="p1", roles=frozenset({"member"}))


def _plan(services: Services, viewer: RequestContext, query: str, marker: Image | None = None) -> str:
    parsed = parse_image_query(parse_qsl(query), default_limit=25, max_limit=1000)

    def work(session: Session) -> str:
        return explain(session.connection(), list_statement(_IMAGE_SELECT, viewer, parsed, marker))

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
        # Glance's default ties go the sort key's way: name, created_at and id all ascending (migration 0017)
        (ADMIN, "sort_key=name&sort_dir=asc", "ix_images_list_name_asc"),
        (MEMBER, "sort=name:asc", "ix_images_visibility_list_name_asc"),
        (MEMBER, "sort=name:asc", "ix_images_owner_list_name"),
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


@pytest.mark.parametrize("query", ["", "sort_key=name&sort_dir=asc", "sort_key=name"])
def test_marker_of_keys_going_one_way_bounds_the_index(services: Services, query: str) -> None:
    marker = Image(id="m", owner="p1", created_at=datetime(2026, 1, 1), updated_at=datetime(2026, 1, 1), name=None)
    plan = _plan(services, ADMIN, query, marker)
    # one row-value comparison on the index's keys: the walk starts at the marker, nothing before it is read
    if services.db.dialect == "postgresql":
        assert any(line.strip().startswith("Index Cond:") and "ROW(" in line for line in plan.splitlines()), plan
    else:
        assert re.search(r"USING INDEX ix_images_list_\w+ \(deleted=\? AND .*[<>]", plan), plan
