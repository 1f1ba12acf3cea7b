"""Parsing a list request: ``field=[and:|or:][op:]value`` filters, ``tags``/``tags-any``, dict-key filters
(``field.key=value``), ``sort=key[:dir],...``, ``limit``, ``marker`` and ``version=latest``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from glimpse.domain.artifacts import fields as f
from glimpse.domain.artifacts import semver
from glimpse.domain.artifacts.types import BASE_COLUMNS, ArtifactType
from glimpse.errors import BadRequest

COMBINERS = ("and", "or")
# the `all` type lists by the type's name, a column too
COLUMNS = frozenset((*BASE_COLUMNS, "type_name"))


@dataclass(frozen=True, slots=True)
class Condition:
    """One filter. ``kind`` is the kind of the compared values; ``column`` whether the field is a column of
    the artifacts table (else property rows); ``keys`` filters on a dict's keys, ``key`` on one key's value."""

    field: str
    op: str
    kind: str
    value: Any
    combiner: str = "and"
    column: bool = False
    key: str | None = None
    keys: bool = False


@dataclass(frozen=True, slots=True)
class TagCondition:
    tags: tuple[str, ...]
    any: bool
    combiner: str = "and"


@dataclass(frozen=True, slots=True)
class SortKey:
    field: str
    direction: str  # asc | desc
    kind: str
    column: bool


@dataclass(frozen=True)
class ListQuery:
    conditions: tuple[Condition, ...] = ()
    tags: tuple[TagCondition, ...] = ()
    sort: tuple[SortKey, ...] = ()
    limit: int = 25
    marker: str | None = None
    latest: bool = False
    # the query string without the marker, for the `first` and `next` links
    params: tuple[tuple[str, str], ...] = field(default=())


def split_filter(expression: str) -> tuple[str, str, str]:
    """``[and:|or:][op:]value`` -> (combiner, op, value). A value that is an ISO date keeps its colons."""
    parts = expression.split(":")
    if len(parts) == 1:
        return "and", "eq", expression
    if len(parts) == 2:
        if parts[0] in COMBINERS:
            return parts[0], "eq", parts[1]
        return "and", parts[0], parts[1]
    combiner, index = "and", 0
    if parts[0] in COMBINERS:
        combiner, index = parts[0], 1
    rest = ":".join(parts[index:])
    if _is_iso_date(rest):
        return combiner, "eq", rest
    return combiner, parts[index], ":".join(parts[index + 1 :])


def _is_iso_date(text: str) -> bool:
    try:
        parse_datetime(text)
    except ValueError:
        return False
    return True


def parse_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


_QUOTED = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)",?|([^,]+),?|,')


def split_values(value: str) -> list[str]:
    """The comma-separated values of ``in`` and of tag filters; double quotes protect commas."""
    opened = False
    for index, char in enumerate(value):
        if char != '"' or (index and value[index - 1] == "\\"):
            continue
        if not opened and index and value[index - 1] != ",":
            raise BadRequest(f"Invalid filter value {value}. There is no comma before opening quotation mark.")
        if opened and index + 1 != len(value) and value[index + 1] != ",":
            raise BadRequest(f"Invalid filter value {value}. There is no comma after closing quotation mark.")
        opened = not opened
    if opened:
        raise BadRequest(f"Invalid filter value {value}. The quote is not closed.")
    return [quoted or plain for quoted, plain in _QUOTED.findall(value)]


def _coerce(item: f.Field, kind: str, raw: str) -> Any:
    if kind == "DateTime":
        return parse_datetime(raw)
    if kind == "Version":
        return semver.parse(raw)
    value = f.coerce_scalar(kind, raw)
    if not item.is_compound:
        for check in item.checks:
            check(value)
    else:
        for check in item.element_validators:
            check(value)
    return value


def _field_kind(item: f.Field) -> str:
    return item.value_kind


def parse_condition(kind: type[ArtifactType], name: str, raw: str) -> Condition:
    key: str | None = None
    if "." in name:
        name, key = name.rsplit(".", 1)
        item = kind.field(name) if not (kind.is_all and name == "type_name") else None
        if item is None or item.kind != "Dict":
            raise BadRequest(f"Field {name} is not Dict")
    item = kind.all_fields().get(name) if kind.is_all else kind.field(name)
    if item is None:
        raise BadRequest(f"Unable filter '{name}'")
    combiner, op, value = split_filter(raw)
    column = name in COLUMNS
    try:
        if item.kind == "Dict" and key is None:  # which keys the dict has
            if op not in ("eq", "in"):
                raise BadRequest(f"Unsupported filter type '{op}'. The following filters are supported: eq, in")
            if combiner not in COMBINERS:
                raise BadRequest(f"Unsupported Query combiner type '{combiner}'. Only and, or are allowed")
            keys = split_values(value) if op == "in" else value
            return Condition(name, op, "String", keys, combiner, column=False, keys=True)
        if op not in item.filter_ops:
            raise BadRequest(
                f"Unsupported filter type '{op}'. The following filters are supported {list(item.filter_ops)}"
            )
        value_kind = _field_kind(item)
        if op == "in":
            parsed: Any = [_coerce(item, value_kind, part) for part in split_values(value)]
        elif op == "like":
            parsed = value
        else:
            parsed = _coerce(item, value_kind, value)
    except ValueError:
        raise BadRequest(f"Invalid filter value: {value}") from None
    return Condition(name, op, value_kind, parsed, combiner, column=column, key=key)


def parse_tags(name: str, raw: str) -> TagCondition:
    combiner, values = "and", raw
    if raw.startswith(("and:", "or:")):
        combiner, _, values = raw.partition(":")
    if ":" in values:
        raise BadRequest("Tags are filtered without operator")
    return TagCondition(tuple(split_values(values)), any=name == "tags-any", combiner=combiner)


def parse_sort(kind: type[ArtifactType], raw: str) -> list[SortKey]:
    keys: list[SortKey] = []
    fields = kind.all_fields()
    for part in raw.strip().split(","):
        name, _, direction = part.partition(":")
        if direction and direction not in ("asc", "desc"):
            raise BadRequest(f'Sort direction must be one of ["asc", "desc"]. Got {direction} direction')
        item = fields.get(name)
        if item is None:
            raise BadRequest(f"The field {name} doesn't exist.")
        if not item.sortable:
            raise BadRequest(f"The field {name} is not sortable.")
        keys.append(SortKey(name, direction or "desc", item.kind, name in COLUMNS))
    return keys


def parse_list_query(
    kind: type[ArtifactType], params: Sequence[tuple[str, str]], default_limit: int, max_limit: int
) -> ListQuery:
    conditions: list[Condition] = []
    tags: list[TagCondition] = []
    sort: list[SortKey] = []
    limit = default_limit
    marker: str | None = None
    latest = False
    for name, raw in params:
        if name == "marker":
            marker = raw
        elif name == "limit":
            try:
                limit = int(raw)
            except ValueError:
                raise BadRequest("Limit param must be an integer.") from None
            if limit < 0:
                raise BadRequest("Limit param must be positive.")
        elif name == "sort":
            sort.extend(parse_sort(kind, raw))
        elif name == "version" and raw == "latest":
            latest = True
        elif name in ("tags", "tags-any"):
            tags.append(parse_tags(name, raw))
        else:
            conditions.append(parse_condition(kind, name, raw))
    for default in (SortKey("created_at", "desc", "DateTime", True), SortKey("id", "asc", "String", True)):
        if not any(key.field == default.field for key in sort):
            sort.append(default)
    return ListQuery(
        conditions=tuple(conditions),
        tags=tuple(tags),
        sort=tuple(sort),
        limit=min(limit, max_limit),
        marker=marker,
        latest=latest,
        params=tuple((name, raw) for name, raw in params if name != "marker"),
    )
