"""The properties of a namespace."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from glimpse.db.models import MetadefPropertyRow
from glimpse.db.repositories.metadefs.base import MetadefRowsBase, _updated
from glimpse.domain.metadefs import Property
from glimpse.errors import Conflict


class PropertyRows(MetadefRowsBase):
    """The property rows of a namespace."""

    def _property_row(self, namespace_id: int, name: str) -> MetadefPropertyRow | None:
        return self.session.scalars(
            select(MetadefPropertyRow).where(
                MetadefPropertyRow.namespace_id == namespace_id, MetadefPropertyRow.name == name
            )
        ).one_or_none()

    def find_property(self, namespace_id: int, name: str) -> Property | None:
        row = self._property_row(namespace_id, name)
        return Property(name=row.name, schema=dict(row.schema or {})) if row is not None else None

    def list_properties(self, namespace_id: int) -> list[Property]:
        stmt = (
            select(MetadefPropertyRow)
            .where(MetadefPropertyRow.namespace_id == namespace_id)
            .order_by(MetadefPropertyRow.name)
        )
        return [Property(name=row.name, schema=dict(row.schema or {})) for row in self.session.scalars(stmt)]

    def save_property(
        self,
        namespace_id: int,
        namespace: str,
        prop: Property,
        *,
        replacing: str | None,
        now: datetime,
        loaded: bool = False,
    ) -> Property:
        duplicate = f"A metadata definition property with name={prop.name} already exists in namespace={namespace}."
        row = self._property_row(namespace_id, replacing) if replacing is not None else None
        if (replacing is None or prop.name != replacing) and self._property_row(namespace_id, prop.name) is not None:
            raise Conflict(duplicate)
        if row is None:
            row = MetadefPropertyRow(namespace_id=namespace_id, created_at=now)
            self.session.add(row)
        row.name = prop.name
        row.schema = prop.schema
        row.updated_at = _updated(now, loaded and replacing is None)
        self._flush(duplicate)
        return Property(name=row.name, schema=dict(row.schema))

    def delete_property(self, namespace_id: int, name: str) -> bool:
        result = self.session.execute(
            delete(MetadefPropertyRow).where(
                MetadefPropertyRow.namespace_id == namespace_id, MetadefPropertyRow.name == name
            )
        )
        return bool(getattr(result, "rowcount", 0))
