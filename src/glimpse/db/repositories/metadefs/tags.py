"""The tags of a namespace (unique without regard to case, as Glance compares them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from glimpse.db.models import MetadefTagRow
from glimpse.db.repositories.metadefs.base import MetadefRowsBase, _sort_column, _updated
from glimpse.domain.metadefs import Tag, tag_key
from glimpse.errors import Conflict


def _tag(row: MetadefTagRow) -> Tag:
    return Tag(name=row.name, created_at=row.created_at, updated_at=row.updated_at)


class TagRows(MetadefRowsBase):
    """The tag rows of a namespace."""

    def _tag_rows(self, namespace_id: int) -> list[MetadefTagRow]:
        return list(self.session.scalars(select(MetadefTagRow).where(MetadefTagRow.namespace_id == namespace_id)))

    def _tag_row(self, namespace_id: int, name: str) -> MetadefTagRow | None:
        return self.session.scalars(
            select(MetadefTagRow).where(MetadefTagRow.namespace_id == namespace_id, MetadefTagRow.name == name)
        ).one_or_none()

    def _tag_row_any_case(self, namespace_id: int, name: str) -> MetadefTagRow | None:
        key = tag_key(name)
        return next((row for row in self._tag_rows(namespace_id) if tag_key(row.name) == key), None)

    def find_tag(self, namespace_id: int, name: str) -> Tag | None:
        row = self._tag_row(namespace_id, name)
        return _tag(row) if row is not None else None

    def list_tags(self, namespace_id: int, sort_key: str = "created_at", sort_dir: str = "desc") -> list[Tag]:
        column = _sort_column(MetadefTagRow, sort_key)
        order = (
            (column.asc(), MetadefTagRow.id.asc()) if sort_dir == "asc" else (column.desc(), MetadefTagRow.id.desc())
        )
        stmt = select(MetadefTagRow).where(MetadefTagRow.namespace_id == namespace_id).order_by(*order)
        return [_tag(row) for row in self.session.scalars(stmt)]

    @staticmethod
    def duplicate_tag(name: str, namespace: str) -> str:
        return (
            f"A metadata tag with name={name} already exists in namespace={namespace}. "
            "(Please note that metadata tag names are case insensitive)."
        )

    def add_tags(
        self, namespace_id: int, namespace: str, names: list[str], now: datetime, *, loaded: bool = False
    ) -> list[Tag]:
        existing = {tag_key(row.name) for row in self._tag_rows(namespace_id)}
        rows = []
        for name in names:
            if tag_key(name) in existing:
                raise Conflict(self.duplicate_tag(name, namespace))
            existing.add(tag_key(name))
            rows.append(
                MetadefTagRow(namespace_id=namespace_id, name=name, created_at=now, updated_at=_updated(now, loaded))
            )
        self.session.add_all(rows)
        self._flush(self.duplicate_tag(names[0] if names else "", namespace))
        return [_tag(row) for row in rows]

    def rename_tag(self, namespace_id: int, namespace: str, old: str, new: str, now: datetime) -> Tag | None:
        row = self._tag_row(namespace_id, old)
        if row is None:
            return None
        other = self._tag_row_any_case(namespace_id, new)
        if other is not None and other.id != row.id:
            raise Conflict(self.duplicate_tag(new, namespace))
        row.name = new
        row.updated_at = now
        self._flush(self.duplicate_tag(new, namespace))
        return _tag(row)

    def delete_tag(self, namespace_id: int, name: str) -> bool:
        result = self.session.execute(
            delete(MetadefTagRow).where(MetadefTagRow.namespace_id == namespace_id, MetadefTagRow.name == name)
        )
        return bool(getattr(result, "rowcount", 0))
