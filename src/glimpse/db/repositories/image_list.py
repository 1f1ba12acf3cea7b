"""The statement of an image list, shaped so an index bounds every scan (see docs/operations.md, "Image lists
at scale").

- Nullable sort keys order through a constant sentinel (``coalesce(name, '')``), written as a literal so the
  expression is the one of the expression indexes of migration 0014 (a bound parameter would not match them).
- A non-admin list is the UNION of its visibility branches (public, community, own, shared with the project),
  each ordered and limited on its own, so each walks its own index instead of one walk of the whole table
  filtered row by row; the union is ordered and limited once more.
- The marker is a row-value comparison on the sort keys when they all go one way (``sort=name:asc`` is
  ``name, created_at, id`` ascending: the indexes of migration 0017), which the index bounds exactly; with
  mixed directions the leading keys that go one way bound the keyset OR-chain, so the scan starts at the
  marker instead of filtering every row before it.
"""

from __future__ import annotations

import operator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
    union,
)

from glimpse.context import RequestContext
from glimpse.db.models import ImageMemberRow, ImagePropertyRow, ImageRow, ImageTagRow
from glimpse.domain.images import Image, Visibility
from glimpse.domain.queries import Condition, ImageQuery
from glimpse.errors import BadRequest

# nullable sort columns are ordered through a sentinel so keyset paging never compares NULL
SORT_SENTINELS: dict[str, Any] = {
    "name": "",
    "container_format": "",
    "disk_format": "",
    "owner": "",
    "size": -1,
    "virtual_size": -1,
}
_SENTINEL_SQL = {key: "''" if value == "" else str(value) for key, value in SORT_SENTINELS.items()}


def sort_expression(key: str, source: Any = ImageRow) -> Any:
    column = getattr(source, key) if source is ImageRow else source.c[key]
    if key in SORT_SENTINELS:
        return func.coalesce(column, literal_column(_SENTINEL_SQL[key]))
    return column


def _order(query: ImageQuery, source: Any = ImageRow) -> list[Any]:
    return [
        sort_expression(key, source).asc() if direction == "asc" else sort_expression(key, source).desc()
        for key, direction in query.sort
    ]


def _condition(cond: Condition) -> ColumnElement[bool]:
    column = getattr(ImageRow, cond.attribute)
    if cond.operator == "in":
        return column.in_(cond.values)  # type: ignore[no-any-return]
    value = cond.values[0]
    if isinstance(value, datetime) and value.microsecond == 0:
        return _within_second(column, cond.operator, value)
    comparisons = {
        "eq": operator.eq, "neq": operator.ne, "gt": operator.gt, "gte": operator.ge, "lt": operator.lt,
        "lte": operator.le,
    }  # fmt: skip
    if cond.operator not in comparisons:
        raise BadRequest(f"Unknown operator {cond.operator}")
    compare: Any = comparisons[cond.operator]
    return compare(column, value)  # type: ignore[no-any-return]


def _within_second(column: Any, op: str, value: datetime) -> ColumnElement[bool]:
    """Timestamps are shown to the second but stored finer: a whole-second value means that whole second."""
    after = value + timedelta(seconds=1)
    match op:
        case "eq":
            return and_(column >= value, column < after)
        case "neq":
            return or_(column < value, column >= after)
        case "gt":
            return column >= after  # type: ignore[no-any-return]
        case "gte":
            return column >= value  # type: ignore[no-any-return]
        case "lt":
            return column < value  # type: ignore[no-any-return]
        case "lte":
            return column < after  # type: ignore[no-any-return]
    raise BadRequest(f"Unknown operator {op}")


def after_marker(marker: Image, query: ImageQuery) -> ColumnElement[bool]:
    """Rows after the marker in the sort order. The leading keys that go the first key's way are one row-value
    comparison, which an index holding them in that order bounds exactly: when every key goes one way (Glance's
    default ties) it is the whole condition; otherwise it bounds (``>=``) the keyset OR-chain. The first key's
    own bound is added for SQLite, whose planner starts an index range at a row value only when its first
    member is a plain column, not ``coalesce(name, '')`` (PostgreSQL starts at the row value either way)."""
    keys = [(sort_expression(key), direction, _marker_value(marker, key)) for key, direction in query.sort]
    first, ascending = keys[0][0], keys[0][1] == "asc"
    leading = 1
    while leading < len(keys) and keys[leading][1] == keys[0][1]:
        leading += 1
    row, values = _row(keys[:leading])
    conditions = [first >= keys[0][2] if ascending else first <= keys[0][2]]
    if leading == len(keys):
        return and_(*conditions, row > values if ascending else row < values)
    if leading > 1:
        conditions.append(row >= values if ascending else row <= values)
    clauses: list[ColumnElement[bool]] = []
    equal_so_far: list[ColumnElement[bool]] = []
    for expression, direction, value in keys:
        clauses.append(and_(*equal_so_far, expression > value if direction == "asc" else expression < value))
        equal_so_far.append(expression == value)
    return and_(*conditions, or_(*clauses))


def _marker_value(marker: Image, key: str) -> Any:
    value = getattr(marker, key)
    return SORT_SENTINELS.get(key) if value is None else value


def _row(keys: list[tuple[Any, str, Any]]) -> tuple[Any, Any]:
    """The keys' expressions and marker values (typed like their expression) as two row values; one key stays
    a scalar."""
    expressions = [expression for expression, _, _ in keys]
    values = [literal(value, expression.type) for expression, _, value in keys]
    if len(keys) == 1:
        return expressions[0], values[0]
    return tuple_(*expressions), tuple_(*values)


def _filters(query: ImageQuery, marker: Image | None) -> list[ColumnElement[bool]]:
    """What every branch of the list shares: not deleted, the query's filters, after the marker."""
    filters: list[ColumnElement[bool]] = [ImageRow.deleted == false()]
    if query.visibility not in (None, "all"):
        filters.append(ImageRow.visibility == query.visibility)
    if query.os_hidden is not None:
        filters.append(ImageRow.os_hidden == query.os_hidden)
    filters += [_condition(cond) for cond in query.conditions]
    for name, value in query.properties.items():
        filters.append(
            ImageRow.id.in_(
                select(ImagePropertyRow.image_id).where(ImagePropertyRow.name == name, ImagePropertyRow.value == value)
            )
        )
    for tag in query.tags:
        # a correlated EXISTS, not id IN (...): SQLite drives a query from an IN list when it can (a tag on
        # 1 image in 7 meant 14,000 primary-key probes and a sort at 100k images), while EXISTS leaves it the
        # sort index, which it walks until the page is full; PostgreSQL plans both as the same semi-join
        filters.append(exists().where(ImageTagRow.image_id == ImageRow.id, ImageTagRow.value == tag))
    if marker is not None:
        filters.append(after_marker(marker, query))
    return filters


def _branches(viewer: RequestContext, query: ImageQuery) -> list[ColumnElement[bool]]:
    """The visibility branches a non-admin viewer lists; community images appear in the default list of
    their owner only (the owner branch)."""
    branches: list[ColumnElement[bool]] = [ImageRow.visibility == Visibility.PUBLIC.value]
    if query.visibility in ("community", "all"):
        branches.append(ImageRow.visibility == Visibility.COMMUNITY.value)
    if viewer.project_id is not None:
        branches.append(ImageRow.owner == viewer.project_id)
        members = select(ImageMemberRow.image_id).where(ImageMemberRow.member == viewer.project_id)
        if query.member_status != "all":
            members = members.where(ImageMemberRow.status == query.member_status)
        branches.append(and_(ImageRow.visibility == Visibility.SHARED.value, ImageRow.id.in_(members)))
    return branches


def list_statement(
    columns: Select[Any], viewer: RequestContext, query: ImageQuery, marker: Image | None
) -> Select[Any]:
    """The select of one page of images: ``columns`` (a select of image columns) filtered, ordered, limited."""
    filters = _filters(query, marker)
    if viewer.is_admin:
        if query.visibility is None:
            # community images appear in the default list of their owner only
            not_community = ImageRow.visibility != Visibility.COMMUNITY.value
            if viewer.project_id is not None:
                not_community = or_(not_community, ImageRow.owner == viewer.project_id)
            filters.append(not_community)
        return columns.where(*filters).order_by(*_order(query)).limit(query.limit)
    branches = _branches(viewer, query)
    if len(branches) == 1:
        return columns.where(*filters, *branches).order_by(*_order(query)).limit(query.limit)
    parts = [
        select(columns.where(*filters, branch).order_by(*_order(query)).limit(query.limit).subquery())
        for branch in branches
    ]
    merged = union(*parts).subquery()
    return select(merged).order_by(*_order(query, merged)).limit(query.limit)
