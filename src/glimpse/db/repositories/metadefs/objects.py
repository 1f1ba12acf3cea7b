"""The objects of a namespace."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from glimpse.db.models import MetadefObjectRow
from glimpse.db.repositories.metadefs.base import MetadefRowsBase, _sort_column, _updated
from glimpse.domain.metadefs import MetadefObject
from glimpse.errors import Conflict


def _object(row: MetadefObjectRow) -> MetadefObject:
    return MetadefObject(
        name=row.name,
        description=row.description,
        required=list(row.required) if row.required is not None else None,
        properties=dict(row.properties or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class ObjectRows(MetadefRowsBase):
    """The object rows of a namespace."""

    def _object_row(self, namespace_id: int, name: str) -> MetadefObjectRow | None:
        return self.session.scalars(
            select(MetadefObjectRow).where(MetadefObjectRow.namespace_id == namespace_id, MetadefObjectRow.name == name)
        ).one_or_none()

    def find_object(self, namespace_id: int, name: str) -> MetadefObject | None:
        row = self._object_row(namespace_id, name)
        return _object(row) if row is not None else None

    def list_objects(
        self, namespace_id: int, sort_key: str = "created_at", sort_dir: str = "desc"
    ) -> list[MetadefObject]:
        column = _sort_column(MetadefObjectRow, sort_key)
        order = (
            (column.asc(), MetadefObjectRow.id.asc())
            if sort_dir == "asc"
            else (column.desc(), MetadefObjectRow.id.desc())
        )
        stmt = select(MetadefObjectRow).where(MetadefObjectRow.namespace_id == namespace_id).order_by(*order)
        return [_object(row) for row in self.session.scalars(stmt)]

    def save_object(
        self,
        namespace_id: int,
        namespace: str,
        obj: MetadefObject,
        *,
        replacing: str | None,
        now: datetime,
        loaded: bool = False,
    ) -> MetadefObject:
        """Create ``obj`` (``replacing`` None) or replace the object named ``replacing`` with it."""
        duplicate = f"A metadata definition object with name={obj.name} already exists in namespace={namespace}."
        row = self._object_row(namespace_id, replacing) if replacing is not None else None
        if (replacing is None or obj.name != replacing) and self._object_row(namespace_id, obj.name) is not None:
            raise Conflict(duplicate)
        if row is None:
            row = MetadefObjectRow(namespace_id=namespace_id, created_at=now)
            self.session.add(row)
        row.name = obj.name
        row.description = obj.description
        row.required = obj.required
        row.properties = obj.properties
        row.updated_at = _updated(now, loaded and replacing is None)
        self._flush(duplicate)
        return _object(row)

    def delete_object(self, namespace_id: int, name: str) -> bool:
        result = self.session.execute(
            delete(MetadefObjectRow).where(MetadefObjectRow.namespace_id == namespace_id, MetadefObjectRow.name == name)
        )
        return bool(getattr(result, "rowcount", 0))
