"""Artifact list statements: the dashboard's order walks an index, and keyset pages follow every order exactly,
on the backend under test."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text, update
from sqlalchemy.orm import Session

from glimpse.container import Services
from glimpse.context import RequestContext
from glimpse.db.models import ArtifactRow
from glimpse.db.repositories.artifacts import ArtifactRepository, Viewer, filters
from glimpse.domain.artifacts.queries import parse_list_query
from tests.unit.db.repositories.plans import FORBIDDEN, explain

ALICE = RequestContext(user_id="alice", project_id="p1", roles=frozenset({"member", "reader"}))
DASHBOARD_SORT = "updated_at:desc,created_at:desc,id:desc"  # api/dashboard/assets.py


def _create(services: Services, count: int) -> list[str]:
    async def create() -> list[str]:
        made = [await services.artifacts.create(ALICE, "heat_templates", {"name": f"t-{i}"}) for i in range(count)]
        return [str(artifact["id"]) for artifact in made]

    return asyncio.run(create())


def _plan(services: Services, sort: str, marker_id: str | None) -> str:
    kind = services.artifacts.types.get("all")
    query = parse_list_query(kind, [("sort", sort), ("limit", "20")], 25, 1000)
    viewer = Viewer("p1", all_projects=False)

    def work(session: Session) -> str:
        repo = ArtifactRepository(session)
        marker = repo.get(marker_id, None, viewer) if marker_id else None
        statement = repo.page_statement(query, filters(query, None, viewer), marker)
        if session.connection().dialect.name == "sqlite":
            # statistics, as a live database has them: every artifact here is the project's, so neither the
            # owner's nor the visibility's index narrows anything, and the order's index is the one to walk
            session.execute(text("ANALYZE artifacts"))
        return explain(session.connection(), statement, (*FORBIDDEN, "enable_bitmapscan"))

    plan: str = services.db.run_sync(work)
    return plan


@pytest.mark.parametrize("with_marker", [False, True], ids=["first page", "after a marker"])
def test_the_dashboard_order_walks_its_index(services: Services, with_marker: bool) -> None:
    ids = _create(services, 3)
    plan = _plan(services, DASHBOARD_SORT, ids[1] if with_marker else None)
    assert "ix_artifacts_list_updated" in plan, plan
    assert "Sort" not in plan, plan  # PostgreSQL
    assert "TEMP B-TREE FOR ORDER BY" not in plan, plan  # SQLite
    if with_marker and services.db.engine.dialect.name == "postgresql":
        assert "Index Cond: (updated_at <=" in plan, plan  # the page starts at the marker


@pytest.mark.parametrize(
    "sort",
    [DASHBOARD_SORT, "updated_at:desc", "created_at:asc,id:desc", "activated_at:desc", "activated_at:asc",
     "name:asc,version:desc"],
)  # fmt: skip
def test_pages_after_markers_follow_the_order(services: Services, sort: str) -> None:
    ids = _create(services, 7)
    start = datetime(2026, 1, 1)

    def spread(session: Session) -> None:  # ties in updated_at and created_at; some activated, some not
        for i, artifact_id in enumerate(ids):
            when = start + timedelta(seconds=i // 3)
            values = {"updated_at": when, "created_at": when, "name": f"n-{i % 2}",
                      "activated_at": when if i % 2 else None}  # fmt: skip
            session.execute(update(ArtifactRow).where(ArtifactRow.id == artifact_id).values(**values))

    services.db.run_sync(spread)

    async def walk(limit: int) -> list[str]:
        seen: list[str] = []
        marker: str | None = None
        while True:
            params = [("sort", sort), ("limit", str(limit))] + ([("marker", marker)] if marker else [])
            page = await services.artifacts.list(ALICE, "all", params, summary=True)
            seen += [str(artifact["id"]) for artifact in page.artifacts]
            if page.next_marker is None:
                return seen
            marker = page.next_marker

    everything = asyncio.run(walk(100))
    assert sorted(everything) == sorted(ids)
    assert asyncio.run(walk(2)) == everything
    assert asyncio.run(walk(1)) == everything


def test_a_summary_list_has_base_fields_and_tags_but_no_count(services: Services) -> None:
    async def run() -> tuple[Any, Any]:
        await services.artifacts.create(ALICE, "heat_templates", {"name": "blog", "tags": ["web"]})
        summary = await services.artifacts.list(ALICE, "heat_templates", [], summary=True)
        full = await services.artifacts.list(ALICE, "heat_templates", [])
        return summary, full

    summary, full = asyncio.run(run())
    assert summary.total_count is None
    assert full.total_count == 1
    [brief] = summary.artifacts
    [whole] = full.artifacts
    assert brief["type_name"] == "heat_templates"  # as the pseudo-type ``all`` shows an artifact
    assert {name: value for name, value in brief.items() if name != "type_name"} == {
        name: value for name, value in whole.items() if name in brief
    }
    assert brief["tags"] == ["web"]
    assert "template" in whole
    assert "template" not in brief  # a type's own fields are not loaded for a summary
