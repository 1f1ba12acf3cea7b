"""Namespaces: found by name, listed with visibility in the query, with their resource type associations."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, false, func, or_, select, text, update

from glimpse.db.models import (
    MetadefAssociationRow,
    MetadefNamespaceRow,
    MetadefObjectRow,
    MetadefPropertyRow,
    MetadefResourceTypeRow,
    MetadefTagRow,
)
from glimpse.db.repositories.metadefs.base import MetadefRowsBase, _sort_column, _updated
from glimpse.domain.metadefs import Association, Namespace
from glimpse.errors import Conflict

NAMESPACE_FIELDS = ("namespace", "display_name", "description", "visibility", "protected", "owner")


def _namespace(row: MetadefNamespaceRow, associations: list[Association] | None = None) -> Namespace:
    return Namespace(
        id=row.id,
        namespace=row.namespace,
        display_name=row.display_name,
        description=row.description,
        visibility=row.visibility,
        protected=bool(row.protected),
        owner=row.owner,
        created_at=row.created_at,
        updated_at=row.updated_at,
        associations=associations or [],
    )


class NamespaceRows(MetadefRowsBase):
    """The namespace rows."""

    def _associations(self, namespace_ids: Iterable[int]) -> dict[int, list[Association]]:
        ids = list(namespace_ids)
        found: dict[int, list[Association]] = {i: [] for i in ids}
        if not ids:
            return found
        stmt = (
            select(MetadefAssociationRow, MetadefResourceTypeRow.name)
            .join(MetadefResourceTypeRow, MetadefResourceTypeRow.id == MetadefAssociationRow.resource_type_id)
            .where(MetadefAssociationRow.namespace_id.in_(ids))
            .order_by(MetadefAssociationRow.created_at, MetadefResourceTypeRow.name)
        )
        for row, name in self.session.execute(stmt):
            found[row.namespace_id].append(
                Association(
                    name=name,
                    prefix=row.prefix,
                    properties_target=row.properties_target,
                    created_at=row.created_at,
                    updated_at=row.updated_at,
                )
            )
        return found

    def _namespace_row(self, name: str) -> MetadefNamespaceRow | None:
        return self.session.scalars(
            select(MetadefNamespaceRow).where(MetadefNamespaceRow.namespace == name)
        ).one_or_none()

    def find_namespace(self, name: str) -> Namespace | None:
        row = self._namespace_row(name)
        if row is None:
            return None
        return _namespace(row, self._associations([row.id])[row.id])

    def list_namespaces(
        self,
        *,
        project_id: str | None,
        is_admin: bool,
        visibility: str | None,
        resource_types: list[str],
        sort_key: str,
        sort_dir: str,
        limit: int,
        marker: Namespace | None,
    ) -> list[Namespace]:
        ns = MetadefNamespaceRow
        stmt = select(ns)
        if not is_admin:
            visible = ns.visibility == "public"
            stmt = stmt.where(or_(visible, ns.owner == project_id) if project_id else visible)
        if visibility:
            stmt = stmt.where(ns.visibility == visibility)
        if resource_types:
            associated = (
                select(MetadefAssociationRow.namespace_id)
                .join(MetadefResourceTypeRow, MetadefResourceTypeRow.id == MetadefAssociationRow.resource_type_id)
                .where(MetadefResourceTypeRow.name.in_(resource_types))
            )
            stmt = stmt.where(ns.id.in_(associated))
        column = _sort_column(ns, sort_key)
        ascending = sort_dir == "asc"
        if marker is not None:
            value = getattr(marker, sort_key)
            if sort_key == "updated_at" and value is None:
                value = marker.created_at
            after = column > value if ascending else column < value
            tie = ns.id > marker.id if ascending else ns.id < marker.id
            stmt = stmt.where(or_(after, and_(column == value, tie)) if value is not None else tie)
        order = (column.asc(), ns.id.asc()) if ascending else (column.desc(), ns.id.desc())
        rows = list(self.session.scalars(stmt.order_by(*order).limit(limit)))
        associations = self._associations(row.id for row in rows)
        return [_namespace(row, associations[row.id]) for row in rows]

    def add_namespace(self, values: dict[str, Any], now: datetime, *, loaded: bool = False) -> Namespace:
        """``loaded``: written by the definition loader, which (as Glance's) sets no update time."""
        if self._namespace_row(values["namespace"]) is not None:
            raise _duplicate_namespace(values["namespace"])
        row = MetadefNamespaceRow(
            **{k: values.get(k) for k in NAMESPACE_FIELDS}, created_at=now, updated_at=_updated(now, loaded)
        )
        self.session.add(row)
        self._flush(_duplicate_namespace(values["namespace"]).message)
        return _namespace(row)

    def update_namespace(self, namespace_id: int, values: dict[str, Any], now: datetime) -> Namespace:
        row = self.session.get_one(MetadefNamespaceRow, namespace_id)
        if values["namespace"] != row.namespace and self._namespace_row(values["namespace"]) is not None:
            raise Conflict(
                f"Invalid update. It would result in a duplicate metadata definition namespace with the same "
                f"name of {values['namespace']}"
            )
        for key in NAMESPACE_FIELDS:
            setattr(row, key, values[key])
        row.updated_at = now
        self._flush(_duplicate_namespace(values["namespace"]).message)
        return _namespace(row, self._associations([row.id])[row.id])

    def delete_namespace(self, namespace_id: int) -> None:
        for table in (MetadefObjectRow, MetadefPropertyRow, MetadefTagRow, MetadefAssociationRow):
            self.session.execute(delete(table).where(table.namespace_id == namespace_id))
        self.session.execute(delete(MetadefNamespaceRow).where(MetadefNamespaceRow.id == namespace_id))

    def delete_all(self, namespace_id: int, kind: str) -> None:
        """Every object, property or tag (``kind``) of a namespace."""
        tables: dict[str, type[MetadefObjectRow] | type[MetadefPropertyRow] | type[MetadefTagRow]] = {
            "objects": MetadefObjectRow,
            "properties": MetadefPropertyRow,
            "tags": MetadefTagRow,
        }
        table = tables[kind]
        self.session.execute(delete(table).where(table.namespace_id == namespace_id))

    def count_records(self, owner: str) -> int:
        """Objects, properties and tags in the namespaces ``owner`` owns (the per-project cap)."""
        owned = select(MetadefNamespaceRow.id).where(MetadefNamespaceRow.owner == owner)
        total = 0
        for table in (MetadefObjectRow, MetadefPropertyRow, MetadefTagRow):
            stmt = select(func.count()).select_from(table).where(table.namespace_id.in_(owned))
            total += int(self.session.scalar(stmt) or 0)
        return total

    def lock_owner(self, owner: str) -> None:
        """Serialise the record-creating transactions of one project until they commit, so two of them never
        both count the records before either adds its own: on PostgreSQL a transaction-scoped advisory lock
        on the owner; on SQLite a write statement, which takes the database's one write lock (the other
        writer waits, up to the busy timeout). Call it before reading the count."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"metadef:{owner}"})
        else:
            self.session.execute(
                update(MetadefNamespaceRow).where(MetadefNamespaceRow.owner == owner, false()).values(owner=owner)
            )

    def touch(self, namespace_id: int, now: datetime) -> None:
        row = self.session.get_one(MetadefNamespaceRow, namespace_id)
        row.updated_at = now


def _duplicate_namespace(name: str) -> Conflict:
    return Conflict(f"The metadata definition namespace={name} already exists.")
