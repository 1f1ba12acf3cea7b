"""glimpse.domain.queries: list query parameters into an ImageQuery."""

from __future__ import annotations

from datetime import datetime

import pytest

from glimpse.domain.queries import SORT_KEYS, Condition, ImageQuery, parse_image_query, parse_timestamp
from glimpse.errors import BadRequest


def parse(query: str | list[tuple[str, str]], default_limit: int = 25, max_limit: int = 1000) -> ImageQuery:
    params = (
        query if isinstance(query, list) else [(k, v) for k, _, v in (p.partition("=") for p in query.split("&") if p)]
    )
    return parse_image_query(params, default_limit=default_limit, max_limit=max_limit)


def test_defaults() -> None:
    query = parse("")
    assert query.conditions == []
    assert query.properties == {}
    assert query.tags == []
    assert query.visibility is None
    assert query.member_status == "accepted"
    assert query.os_hidden is False
    assert query.sort == [("created_at", "desc"), ("id", "desc")]
    assert query.limit == 25
    assert query.marker is None


# -- filters ---------------------------------------------------------------------------------------------------
def test_column_equality() -> None:
    query = parse("name=cirros&status=active&owner=p&disk_format=raw&container_format=bare&id=x&checksum=c")
    assert query.conditions == [
        Condition("name", "eq", ("cirros",)),
        Condition("status", "eq", ("active",)),
        Condition("owner", "eq", ("p",)),
        Condition("disk_format", "eq", ("raw",)),
        Condition("container_format", "eq", ("bare",)),
        Condition("id", "eq", ("x",)),
        Condition("checksum", "eq", ("c",)),
    ]


def test_integer_columns() -> None:
    query = parse("min_disk=10&min_ram=512&size=5&virtual_size=7")
    assert [c.values for c in query.conditions] == [(10,), (512,), (5,), (7,)]
    with pytest.raises(BadRequest, match="min_disk param must be an integer"):
        parse("min_disk=ten")


@pytest.mark.parametrize("attribute", ["id", "name", "status", "container_format", "disk_format"])
def test_in_operator(attribute: str) -> None:
    query = parse(f"{attribute}=in:a,b,c")
    assert query.conditions == [Condition(attribute, "in", ("a", "b", "c"))]


def test_in_operator_with_quotes() -> None:
    query = parse([("name", 'in:"glass, darkly",share me,"a,b,c"')])
    assert query.conditions == [Condition("name", "in", ("glass, darkly", "share me", "a,b,c"))]


def test_in_operator_with_one_value() -> None:
    assert parse("name=in:solo").conditions == [Condition("name", "in", ("solo",))]


def test_in_operator_with_unclosed_quote() -> None:
    with pytest.raises(BadRequest, match="The quote is not closed"):
        parse([("name", 'in:"a,b')])


@pytest.mark.parametrize("attribute", ["owner", "checksum", "min_disk", "size"])
def test_in_operator_unsupported(attribute: str) -> None:
    with pytest.raises(BadRequest, match="'in' operator is not supported"):
        parse(f"{attribute}=in:1,2")


def test_size_range() -> None:
    query = parse("size_min=10&size_max=20")
    assert query.conditions == [Condition("size", "gte", (10,)), Condition("size", "lte", (20,))]
    with pytest.raises(BadRequest, match="size_min param must be an integer"):
        parse("size_min=x")
    with pytest.raises(BadRequest, match="size_max param must be positive"):
        parse("size_max=-1")


@pytest.mark.parametrize("operator", ["gt", "gte", "eq", "neq", "lt", "lte"])
@pytest.mark.parametrize("column", ["created_at", "updated_at"])
def test_time_operators(operator: str, column: str) -> None:
    query = parse(f"{column}={operator}:2024-04-18T21:38:54Z")
    assert query.conditions == [Condition(column, operator, (datetime(2024, 4, 18, 21, 38, 54),))]


def test_time_without_operator_is_eq() -> None:
    assert parse("created_at=2024-04-18T21:38:54Z").conditions == [
        Condition("created_at", "eq", (datetime(2024, 4, 18, 21, 38, 54),))
    ]


def test_unknown_time_operator_is_a_bad_timestamp() -> None:
    with pytest.raises(BadRequest, match="Invalid timestamp"):
        parse("created_at=after:2024-04-18T21:38:54Z")


def test_parse_timestamp() -> None:
    assert parse_timestamp("2015-08-27T09:49:58-05:00") == datetime(2015, 8, 27, 14, 49, 58)
    assert parse_timestamp("2015-08-27T09:49:58+00:00") == datetime(2015, 8, 27, 9, 49, 58)
    assert parse_timestamp("2015-08-27T09:49:58Z") == datetime(2015, 8, 27, 9, 49, 58)
    # no zone means UTC
    assert parse_timestamp("2015-08-27T09:49:58") == datetime(2015, 8, 27, 9, 49, 58)
    assert parse_timestamp("2015-08-27") == datetime(2015, 8, 27)
    for bad in ("", "yesterday", "2015-13-01T00:00:00Z", "2015-08-27T25:00:00"):
        with pytest.raises(BadRequest):
            parse_timestamp(bad)


def test_repeated_tags() -> None:
    assert parse("tag=a&tag=b&tag=a").tags == ["a", "b", "a"]


def test_extra_properties() -> None:
    query = parse("os_distro=cirros&hw_disk_bus=scsi")
    assert query.properties == {"os_distro": "cirros", "hw_disk_bus": "scsi"}
    assert query.conditions == []


@pytest.mark.parametrize("value", ["public", "private", "shared", "community", "all"])
def test_visibility(value: str) -> None:
    assert parse(f"visibility={value}").visibility == value


def test_bad_visibility() -> None:
    with pytest.raises(BadRequest, match="Invalid visibility value: everyone"):
        parse("visibility=everyone")


@pytest.mark.parametrize("value", ["pending", "accepted", "rejected", "all"])
def test_member_status(value: str) -> None:
    assert parse(f"member_status={value}").member_status == value


def test_bad_member_status() -> None:
    with pytest.raises(BadRequest):
        parse("member_status=maybe")


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("False", False), ("1", True), ("off", False)])
def test_booleans(raw: str, expected: bool) -> None:
    assert parse(f"os_hidden={raw}").os_hidden is expected
    assert parse(f"protected={raw}").conditions == [Condition("protected", "eq", (expected,))]


def test_bad_boolean() -> None:
    with pytest.raises(BadRequest, match="Invalid value for os_hidden"):
        parse("os_hidden=maybe")


# -- sorting ---------------------------------------------------------------------------------------------------
def test_sort_key_and_dir() -> None:
    assert parse("sort_key=name&sort_dir=asc").sort == [("name", "asc"), ("created_at", "asc"), ("id", "asc")]
    assert parse("sort_key=name").sort == [("name", "desc"), ("created_at", "desc"), ("id", "desc")]


def test_one_sort_dir_applies_to_every_key() -> None:
    assert parse("sort_key=name&sort_key=size&sort_dir=asc").sort == [
        ("name", "asc"), ("size", "asc"), ("created_at", "asc"), ("id", "asc"),
    ]  # fmt: skip


def test_sort_dirs_pair_with_keys() -> None:
    assert parse("sort_key=name&sort_dir=asc&sort_key=size&sort_dir=desc").sort == [
        ("name", "asc"), ("size", "desc"), ("created_at", "desc"), ("id", "desc"),
    ]  # fmt: skip


def test_sort_dir_alone_orders_created_at() -> None:
    assert parse("sort_dir=asc").sort == [("created_at", "asc"), ("id", "asc")]


def test_new_sort_syntax() -> None:
    assert parse("sort=name:asc,size:desc").sort == [
        ("name", "asc"), ("size", "desc"), ("created_at", "desc"), ("id", "desc"),
    ]  # fmt: skip
    assert parse("sort=name").sort == [("name", "desc"), ("created_at", "desc"), ("id", "desc")]
    assert parse("sort=name:asc").sort == [("name", "asc"), ("created_at", "asc"), ("id", "asc")]
    assert parse("sort=created_at:asc").sort == [("created_at", "asc"), ("id", "asc")]


def test_explicit_id_and_created_at_are_not_repeated() -> None:
    assert parse("sort=id:asc").sort == [("id", "asc"), ("created_at", "asc")]
    assert parse("sort_key=created_at&sort_key=id&sort_dir=asc").sort == [("created_at", "asc"), ("id", "asc")]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sort_key=bogus", "Invalid sort key: bogus"),
        ("sort=bogus:asc", "Invalid sort key: bogus"),
        ("sort_key=name&sort_dir=sideways", "Invalid sort direction: sideways"),
        ("sort=name:sideways", "Invalid sort direction: sideways"),
        ("sort=name:asc&sort_key=size", "cannot be combined"),
        ("sort=name:asc&sort_dir=asc", "cannot be combined"),
        ("sort_key=a&sort_key=b&sort_dir=asc&sort_dir=desc&sort_dir=asc", "does not match"),
    ],
)
def test_bad_sort(query: str, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse(query)
    assert message in caught.value.message


def test_sort_keys_are_image_columns() -> None:
    assert "name" in SORT_KEYS
    assert {"self", "file", "schema", "tags", "locations"}.isdisjoint(SORT_KEYS)


# -- paging ----------------------------------------------------------------------------------------------------
def test_limit() -> None:
    assert parse("limit=5").limit == 5
    assert parse("limit=0").limit == 0
    assert parse("", default_limit=7).limit == 7
    assert parse("limit=5000", max_limit=100).limit == 100
    assert parse("", default_limit=50, max_limit=10).limit == 10
    with pytest.raises(BadRequest, match="limit param must be an integer"):
        parse("limit=x")
    with pytest.raises(BadRequest, match="limit param must be positive"):
        parse("limit=-1")


def test_marker() -> None:
    assert parse("marker=abc").marker == "abc"
    assert parse("marker=a&marker=b").marker == "b"


def test_paging_params_are_not_filters() -> None:
    query = parse("limit=1&marker=m&sort_key=name&sort_dir=asc")
    assert query.properties == {}
    assert query.conditions == []
