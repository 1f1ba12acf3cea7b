"""Metadata definition persistence: namespaces and what they hold, resource types and associations.

A namespace is found by name; what it holds by the namespace's row id. Visibility is put into the list
query (``visible_to``); a single namespace is loaded by name and judged by the service, which must tell a
missing namespace from a hidden one only to the admin.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, false, func, or_, select, text, true, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from glimpse.db.models import (
    MetadefAssociationRow,
    MetadefNamespaceRow,
    MetadefObjectRow,
    MetadefPropertyRow,
    MetadefResourceTypeRow,
    MetadefTagRow,
)
from glimpse.domain.metadefs import Association, MetadefObject, Namespace, Property, ResourceType, Tag, tag_key
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


def _object(row: MetadefObjectRow) -> MetadefObject:
    return MetadefObject(
        name=row.name,
        description=row.description,
        required=list(row.required) if row.required is not None else None,
        properties=dict(row.properties or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _tag(row: MetadefTagRow) -> Tag:
    return Tag(name=row.name, created_at=row.created_at, updated_at=row.updated_at)


def _updated(now: datetime, loaded: bool) -> datetime | None:
    """A new row's update time: none for what the definition loader writes (Glance shows none then)."""
    return None if loaded else now


def _sort_column(model: Any, sort_key: str) -> Any:
    """The column to sort by; a row never updated sorts by its creation time under ``updated_at`` (the same
    order on every database, and a marker on such a row still pages)."""
    if sort_key == "updated_at":
        return func.coalesce(model.updated_at, model.created_at)
    return getattr(model, sort_key)


class MetadefRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _flush(self, conflict: str) -> None:
        """Flush; a unique constraint another transaction got to first is the same 409 as one seen before."""
        try:
            self.session.flush()
        except sa_exc.IntegrityError:
            raise Conflict(conflict) from None

    # -- namespaces ---------------------------------------------------------------------------------------
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

    # -- objects ------------------------------------------------------------------------------------------
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

    # -- properties ---------------------------------------------------------------------------------------
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

    # -- tags ---------------------------------------------------------------------------------------------
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

    # -- resource types -----------------------------------------------------------------------------------
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

    # -- the loader's whole-catalog operations ------------------------------------------------------------
    def namespace_names(self) -> list[str]:
        return list(self.session.scalars(select(MetadefNamespaceRow.namespace).order_by(MetadefNamespaceRow.namespace)))

    def clear(self) -> None:
        for table in (MetadefObjectRow, MetadefPropertyRow, MetadefTagRow, MetadefAssociationRow):
            self.session.execute(delete(table).where(true()))
        self.session.execute(delete(MetadefNamespaceRow).where(true()))
        self.session.execute(delete(MetadefResourceTypeRow).where(MetadefResourceTypeRow.protected.is_(False)))


def _duplicate_namespace(name: str) -> Conflict:
    return Conflict(f"The metadata definition namespace={name} already exists.")
