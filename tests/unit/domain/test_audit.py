"""glimpse.domain.audit and the audit query's parsing: what is audited, the outcome, the filters."""

from __future__ import annotations

from datetime import datetime

import pytest

from glimpse.domain.audit import AuditQuery, audited, outcome
from glimpse.errors import BadRequest
from glimpse.services.audit import MAX_LIMIT, parse_query


@pytest.mark.parametrize(
    ("method", "status", "expected"),
    [("POST", 201, True), ("PATCH", 400, True), ("DELETE", 204, True), ("PUT", 500, True), ("GET", 200, False),
     ("HEAD", 404, False), ("GET", 403, True), ("GET", 401, True), ("OPTIONS", 405, False)],
)  # fmt: skip
def test_every_write_and_every_refusal_is_audited(method: str, status: int, expected: bool) -> None:
    assert audited(method, status) is expected


def test_outcomes() -> None:
    assert [outcome(s) for s in (200, 201, 204, 303, 400, 401, 403, 404, 409, 500, 0)] == [
        "success", "success", "success", "success", "failure", "denied", "denied", "failure", "failure", "failure",
        "failure",
    ]  # fmt: skip


def test_the_query() -> None:
    query, limit, marker = parse_query(
        [("project_id", "p"), ("outcome", "denied"), ("since", "2026-12-06T05:00:00Z"),
         ("until", "2026-12-06T07:00:00+02:00"), ("limit", "5000"), ("marker", "m")]
    )  # fmt: skip
    assert query == AuditQuery(
        project_id="p", outcome="denied", since=datetime(2026, 12, 6, 5), until=datetime(2026, 12, 6, 5)
    )
    assert (limit, marker) == (MAX_LIMIT, "m")
    for bad in ([("limit", "-1")], [("since", "noon")], [("token", "x")]):
        with pytest.raises(BadRequest):
            parse_query(bad)
