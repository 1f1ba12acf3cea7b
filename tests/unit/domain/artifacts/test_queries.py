from __future__ import annotations

import pytest

from glimpse.domain.artifacts import queries
from glimpse.domain.artifacts.builtin import SampleArtifact
from glimpse.errors import BadRequest


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("x", ("and", "eq", "x")), ("or:x", ("or", "eq", "x")), ("gt:5", ("and", "gt", "5")),
     ("or:lte:5", ("or", "lte", "5")), ("2026-01-01T10:00:00", ("and", "eq", "2026-01-01T10:00:00")),
     ("lt:2026-01-01T10:00:00", ("and", "lt", "2026-01-01T10:00:00"))],
)  # fmt: skip
def test_split_filter(raw: str, expected: tuple[str, str, str]) -> None:
    assert queries.split_filter(raw) == expected


def test_split_values_honours_quotes() -> None:
    assert queries.split_values('a,"b,c",d') == ["a", "b,c", "d"]
    with pytest.raises(BadRequest):
        queries.split_values('a"b"')
    with pytest.raises(BadRequest):
        queries.split_values('"ab')


def test_parse_list_query() -> None:
    query = queries.parse_list_query(
        SampleArtifact,
        [("int1", "in:1,2"), ("dict_of_int.k", "3"), ("tags-any", "or:a,b"), ("sort", "int1:asc"), ("limit", "5000"),
         ("marker", "m"), ("version", "latest")],
        default_limit=25,
        max_limit=1000,
    )  # fmt: skip
    assert query.conditions[0] == queries.Condition("int1", "in", "Integer", [1, 2])
    assert query.conditions[1] == queries.Condition("dict_of_int", "eq", "Integer", 3, key="k")
    assert query.tags == (queries.TagCondition(("a", "b"), any=True, combiner="or"),)
    assert [key.field for key in query.sort] == ["int1", "created_at", "id"]
    assert (query.limit, query.marker, query.latest) == (1000, "m", True)
    assert ("marker", "m") not in query.params
