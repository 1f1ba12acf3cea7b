"""The metadef repository: its parts per resource in one object, and the loader's whole-catalog operations."""

from __future__ import annotations

from sqlalchemy import delete, select, true

from glimpse.db.models import (
    MetadefAssociationRow,
    MetadefNamespaceRow,
    MetadefObjectRow,
    MetadefPropertyRow,
    MetadefResourceTypeRow,
    MetadefTagRow,
)
from glimpse.db.repositories.metadefs.namespaces import NamespaceRows
from glimpse.db.repositories.metadefs.objects import ObjectRows
from glimpse.db.repositories.metadefs.properties import PropertyRows
from glimpse.db.repositories.metadefs.resource_types import ResourceTypeRows
from glimpse.db.repositories.metadefs.tags import TagRows


class MetadefRepository(NamespaceRows, ObjectRows, PropertyRows, TagRows, ResourceTypeRows):
    """Every metadef row, one part per resource; and the loader's whole-catalog operations."""

    def namespace_names(self) -> list[str]:
        return list(self.session.scalars(select(MetadefNamespaceRow.namespace).order_by(MetadefNamespaceRow.namespace)))

    def clear(self) -> None:
        for table in (MetadefObjectRow, MetadefPropertyRow, MetadefTagRow, MetadefAssociationRow):
            self.session.execute(delete(table).where(true()))
        self.session.execute(delete(MetadefNamespaceRow).where(true()))
        self.session.execute(delete(MetadefResourceTypeRow).where(MetadefResourceTypeRow.protected.is_(False)))
