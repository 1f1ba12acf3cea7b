"""List queries in SQL: visibility, field and tag filters (``EXISTS`` per condition), keyset pagination."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, not_, or_, true
from sqlalchemy.orm import aliased

from glimpse.db.models import ArtifactPropertyRow
from glimpse.db.repositories.artifacts.records import VALUE_COLUMNS, A, T, Viewer
from glimpse.domain.artifacts import semver
from glimpse.domain.artifacts.queries import Condition, ListQuery, TagCondition


def _readable(viewer: Viewer) -> ColumnElement[bool]:
    if viewer.all_projects:
        return true()
    if viewer.project_id is None:
        return A.visibility == "public"
    return or_(A.owner == viewer.project_id, A.visibility == "public")


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "in":
        return column.in_(list(value)) if value else false()
    if op == "like":
        return column.like(value)  # type: ignore[no-any-return]
    return {  # type: ignore[no-any-return]
        "eq": lambda: column == value,
        "neq": lambda: column != value,
        "gt": lambda: column > value,
        "gte": lambda: column >= value,
        "lt": lambda: column < value,
        "lte": lambda: column <= value,
    }[op]()


def _version_compare(op: str, value: semver.SemVer) -> ColumnElement[bool]:
    prefix, suffix, meta = value.prefix, value.suffix, value.meta
    same = and_(A.version_prefix == prefix, A.version_suffix == suffix, A.version_meta == meta)
    if op == "eq":
        return same
    if op == "neq":
        return not_(same)
    after = or_(A.version_prefix > prefix, and_(A.version_prefix == prefix, A.version_suffix > suffix))
    before = or_(A.version_prefix < prefix, and_(A.version_prefix == prefix, A.version_suffix < suffix))
    same_order = and_(A.version_prefix == prefix, A.version_suffix == suffix)
    return {"gt": after, "gte": or_(after, same_order), "lt": before, "lte": or_(before, same_order)}[op]


def _condition(cond: Condition) -> ColumnElement[bool]:
    if cond.column:
        if cond.field == "version":
            if cond.op == "in":
                return or_(false(), *(_version_compare("eq", item) for item in cond.value))
            return _version_compare(cond.op, cond.value)
        return _compare(A[cond.field], cond.op, cond.value)
    prop = aliased(ArtifactPropertyRow)
    terms: list[ColumnElement[bool]] = [prop.artifact_id == A.id, prop.name == cond.field]
    if cond.keys:
        terms.append(_compare(prop.key_name, "in" if cond.op == "in" else "eq", cond.value))
    else:
        if cond.key is not None:
            terms.append(prop.key_name == cond.key)
        terms.append(_compare(getattr(prop, VALUE_COLUMNS[cond.kind]), cond.op, cond.value))
    return exists().where(*terms)


def _tag_condition(cond: TagCondition) -> ColumnElement[bool]:
    if cond.any:
        return exists().where(T.artifact_id == A.id, T.value.in_(cond.tags))
    return and_(true(), *(exists().where(T.artifact_id == A.id, T.value == tag) for tag in cond.tags))


def filters(query: ListQuery, type_name: str | None, viewer: Viewer) -> list[ColumnElement[bool]]:
    terms: list[ColumnElement[bool]] = [_readable(viewer), A.status != "deleted"]
    if type_name is not None:
        terms.append(A.type_name == type_name)
    alternatives: list[ColumnElement[bool]] = []
    for cond in query.conditions:
        (alternatives if cond.combiner == "or" else terms).append(_condition(cond))
    for tag in query.tags:
        (alternatives if tag.combiner == "or" else terms).append(_tag_condition(tag))
    if alternatives:
        terms.append(or_(*alternatives))
    return terms


@dataclass(frozen=True, slots=True)
class Sortable:
    """One sort column: its expression, direction, the marker's value and whether it may be NULL."""

    column: Any
    direction: str
    value: Any
    nullable: bool


def _same(column: Any, value: Any) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value  # type: ignore[no-any-return]


def _beyond(item: Sortable) -> ColumnElement[bool]:
    """Rows after the marker's value in this column's order (ascending: NULLs first; descending: NULLs last)."""
    column, value = item.column, item.value
    if item.direction == "asc":
        return column.is_not(None) if value is None else column > value  # type: ignore[no-any-return]
    if value is None:
        return false()
    return column < value if not item.nullable else or_(column < value, column.is_(None))


def _after(columns: Sequence[Sortable]) -> ColumnElement[bool]:
    """Keyset pagination: rows strictly after the marker in the sort order."""
    alternatives = []
    for index, item in enumerate(columns):
        equal = [_same(earlier.column, earlier.value) for earlier in columns[:index]]
        alternatives.append(and_(*equal, _beyond(item)))
    return or_(*alternatives)
