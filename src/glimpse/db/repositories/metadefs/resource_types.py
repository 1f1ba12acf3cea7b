"""Resource types and their associations with namespaces."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, select

from glimpse.db.models import MetadefAssociationRow, MetadefResourceTypeRow
from glimpse.db.repositories.metadefs.base import MetadefRowsBase, _updated
from glimpse.domain.metadefs import Association, ResourceType
from glimpse.errors import Conflict


class ResourceTypeRows(MetadefRowsBase):
    """The resource type and association rows."""

    def list_resource_types(self) -> list[ResourceType]:
        stmt = select(MetadefResourceTypeRow).order_by(MetadefResourceTypeRow.id)  # as created, as Glance lists them
        return [
            ResourceType(
                name=row.name, protected=bool(row.protected), created_at=row.created_at, updated_at=row.updated_at
            )
            for row in self.session.scalars(stmt)
        ]

    def _resource_type_row(self, name: str) -> MetadefResourceTypeRow | None:
        return self.session.scalars(
            select(MetadefResourceTypeRow).where(MetadefResourceTypeRow.name == name)
        ).one_or_none()

    def find_resource_type(self, name: str) -> ResourceType | None:
        row = self._resource_type_row(name)
        if row is None:
            return None
        return ResourceType(
            name=row.name, protected=bool(row.protected), created_at=row.created_at, updated_at=row.updated_at
        )

    def add_resource_type(self, name: str, protected: bool, now: datetime) -> ResourceType:
        duplicate = f"A metadata definition resource-type with name={name} already exists."
        if self._resource_type_row(name) is not None:
            raise Conflict(duplicate)
        row = MetadefResourceTypeRow(name=name, protected=protected, created_at=now, updated_at=now)
        self.session.add(row)
        self._flush(duplicate)
        return ResourceType(name=name, protected=protected, created_at=now, updated_at=now)

    def ensure_resource_types(self, names: Iterable[str], now: datetime) -> int:
        """Create those of ``names`` that are missing (protected, never updated, as Glance's loader makes
        them); how many were created."""
        existing = set(self.session.scalars(select(MetadefResourceTypeRow.name)))
        created = 0
        for name in names:
            if name not in existing:
                self.session.add(MetadefResourceTypeRow(name=name, protected=True, created_at=now, updated_at=None))
                existing.add(name)
                created += 1
        self.session.flush()
        return created

    def resource_type_in_use(self, name: str) -> bool:
        row = self._resource_type_row(name)
        if row is None:
            return False
        stmt = (
            select(func.count())
            .select_from(MetadefAssociationRow)
            .where(MetadefAssociationRow.resource_type_id == row.id)
        )
        return bool(self.session.scalar(stmt))

    def delete_resource_type(self, name: str) -> bool:
        result = self.session.execute(delete(MetadefResourceTypeRow).where(MetadefResourceTypeRow.name == name))
        return bool(getattr(result, "rowcount", 0))

    def add_association(
        self, namespace_id: int, namespace: str, association: Association, now: datetime, *, loaded: bool = False
    ) -> Association:
        """``loaded``: by the definition loader, which (as Glance's) makes a missing resource type protected and
        sets no update times."""
        rtype = self._resource_type_row(association.name)
        if rtype is None:  # as Glance: associating an unknown resource type creates it
            rtype = MetadefResourceTypeRow(
                name=association.name, protected=loaded, created_at=now, updated_at=_updated(now, loaded)
            )
            self.session.add(rtype)
            self.session.flush()
        duplicate = (
            f"The metadata definition resource-type association of resource-type={association.name} to "
            f"namespace={namespace} already exists."
        )
        found = self.session.get(MetadefAssociationRow, (namespace_id, rtype.id))
        if found is not None:
            raise Conflict(duplicate)
        self.session.add(
            MetadefAssociationRow(
                namespace_id=namespace_id,
                resource_type_id=rtype.id,
                prefix=association.prefix,
                properties_target=association.properties_target,
                created_at=now,
                updated_at=_updated(now, loaded),
            )
        )
        self._flush(duplicate)
        return Association(
            name=association.name,
            prefix=association.prefix,
            properties_target=association.properties_target,
            created_at=now,
            updated_at=_updated(now, loaded),
        )

    def update_association(self, namespace_id: int, association: Association, now: datetime) -> None:
        rtype = self._resource_type_row(association.name)
        if rtype is None:
            return
        row = self.session.get(MetadefAssociationRow, (namespace_id, rtype.id))
        if row is not None:
            row.prefix = association.prefix
            row.properties_target = association.properties_target
            row.updated_at = now

    def delete_association(self, namespace_id: int, name: str) -> bool:
        rtype = self._resource_type_row(name)
        if rtype is None:
            return False
        result = self.session.execute(
            delete(MetadefAssociationRow).where(
                MetadefAssociationRow.namespace_id == namespace_id,
                MetadefAssociationRow.resource_type_id == rtype.id,
            )
        )
        return bool(getattr(result, "rowcount", 0))
