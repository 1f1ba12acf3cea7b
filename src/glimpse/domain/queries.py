"""Parsing Glance's list query parameters into a typed query; pure, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from glimpse.errors import BadRequest

MAX_INTEGER = 2**63 - 1  # the largest value a BIGINT column holds
OPERATORS = ("gt", "gte", "eq", "neq", "lt", "lte")
IN_ATTRIBUTES = frozenset({"id", "name", "status", "container_format", "disk_format"})
COLUMN_FILTERS = frozenset(
    {"id", "name", "status", "container_format", "disk_format", "owner", "checksum", "os_hash_value",
     "min_disk", "min_ram", "size", "virtual_size"}
)  # fmt: skip
INT_FILTERS = frozenset({"min_disk", "min_ram", "size", "virtual_size"})
BOOLEAN_FILTERS = frozenset({"protected", "os_hidden"})
TIME_FILTERS = frozenset({"created_at", "updated_at"})
SORT_KEYS = frozenset(
    {"name", "status", "container_format", "disk_format", "size", "virtual_size", "id", "created_at",
     "updated_at", "min_disk", "min_ram", "owner", "visibility", "protected", "os_hidden"}
)  # fmt: skip
VISIBILITIES = frozenset({"public", "private", "shared", "community", "all"})
MEMBER_STATUSES = frozenset({"pending", "accepted", "rejected", "all"})
NON_FILTER_PARAMS = frozenset({"limit", "marker", "sort_key", "sort_dir", "sort"})


@dataclass(frozen=True, slots=True)
class Condition:
    attribute: str
    operator: str  # eq, neq, gt, gte, lt, lte, in
    values: tuple[object, ...]


@dataclass(slots=True)
class ImageQuery:
    conditions: list[Condition] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    visibility: str | None = None
    member_status: str = "accepted"
    os_hidden: bool | None = False
    sort: list[tuple[str, str]] = field(default_factory=list)
    limit: int = 25
    marker: str | None = None


def _parse_bool(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise BadRequest(f"Invalid value for {name}: {value!r} is not a boolean")


def _split_in(value: str) -> tuple[str, ...]:
    """Split an ``in:`` list on commas; a value in double quotes may contain commas."""
    items: list[str] = []
    current: list[str] = []
    quoted = False
    for char in value:
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    if quoted:
        raise BadRequest(f"Invalid filter value {value}. The quote is not closed.")
    items.append("".join(current))
    return tuple(items)


def parse_timestamp(value: str) -> datetime:
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"Invalid timestamp {value!r}: expected ISO 8601") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _split_operator(value: str) -> tuple[str, str]:
    head, sep, rest = value.partition(":")
    if sep and head in OPERATORS:
        return head, rest
    return "eq", value


def _int_param(name: str, value: str, minimum: int = 0) -> int:
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"{name} param must be an integer") from None
    if number < minimum:
        raise BadRequest(f"{name} param must be positive" if minimum == 0 else f"{name} must be >= {minimum}")
    if number > MAX_INTEGER:
        raise BadRequest(f"{name} param must be at most {MAX_INTEGER}")
    return number


def _parse_sort(params: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    sort_param = [v for k, v in params if k == "sort"]
    keys = [v for k, v in params if k == "sort_key"]
    dirs = [v for k, v in params if k == "sort_dir"]
    if sort_param and (keys or dirs):
        raise BadRequest("The 'sort' parameter cannot be combined with 'sort_key' or 'sort_dir'.")
    result: list[tuple[str, str]] = []
    if sort_param:
        for chunk in ",".join(sort_param).split(","):
            key, _, direction = chunk.strip().partition(":")
            result.append((key.strip(), (direction or "desc").strip()))
    else:
        if len(dirs) > 1 and len(dirs) != len(keys):
            raise BadRequest("Number of sort dirs does not match the number of sort keys")
        for index, key in enumerate(keys):
            direction = dirs[index] if len(dirs) > 1 else (dirs[0] if dirs else "desc")
            result.append((key, direction))
        if not keys and dirs:
            result.append(("created_at", dirs[0]))
    for key, direction in result:
        if key not in SORT_KEYS:
            raise BadRequest(
                f"Invalid sort key: {key}. It must be one of the following: {', '.join(sorted(SORT_KEYS))}."
            )
        if direction not in ("asc", "desc"):
            raise BadRequest(f"Invalid sort direction: {direction}")
    # like Glance: ties are broken by created_at then id, in the one direction given (else desc)
    given = dirs if not sort_param else [direction for _, direction in result]
    default_dir = given[0] if len(given) == 1 else "desc"
    for key in ("created_at", "id"):
        if all(existing != key for existing, _ in result):
            result.append((key, default_dir))
    return result


def parse_image_query(params: Sequence[tuple[str, str]], *, default_limit: int, max_limit: int) -> ImageQuery:
    """Turn ``?name=x&tag=a&size_min=1&created_at=gt:...&sort=name:asc`` into an :class:`ImageQuery`."""
    query = ImageQuery(limit=default_limit, sort=_parse_sort(params))
    for name, value in params:
        if name in NON_FILTER_PARAMS:
            continue
        if name == "tag":
            query.tags.append(value)
        elif name == "visibility":
            if value not in VISIBILITIES:
                raise BadRequest(f"Invalid visibility value: {value}")
            query.visibility = value
        elif name == "member_status":
            if value not in MEMBER_STATUSES:
                raise BadRequest(f"Invalid status: {value}")
            query.member_status = value
        elif name in ("size_min", "size_max"):
            number = _int_param(name, value)
            query.conditions.append(Condition("size", "gte" if name == "size_min" else "lte", (number,)))
        elif name in BOOLEAN_FILTERS:
            parsed = _parse_bool(name, value)
            if name == "os_hidden":
                query.os_hidden = parsed
            else:
                query.conditions.append(Condition(name, "eq", (parsed,)))
        elif name in TIME_FILTERS:
            operator, rest = _split_operator(value)
            query.conditions.append(Condition(name, operator, (parse_timestamp(rest),)))
        elif name in COLUMN_FILTERS:
            if value.startswith("in:"):
                if name not in IN_ATTRIBUTES:
                    raise BadRequest(f"The 'in' operator is not supported for {name}")
                query.conditions.append(Condition(name, "in", _split_in(value[3:])))
            elif name in INT_FILTERS:
                query.conditions.append(Condition(name, "eq", (_int_param(name, value),)))
            else:
                query.conditions.append(Condition(name, "eq", (value,)))
        else:
            query.properties[name] = value
    raw_limit = [v for k, v in params if k == "limit"]
    if raw_limit:
        query.limit = _int_param("limit", raw_limit[-1])
    query.limit = min(query.limit, max_limit)
    markers = [v for k, v in params if k == "marker"]
    if markers:
        query.marker = markers[-1]
    return query
