"""An artifact as stored (:class:`ArtifactRecord`), who may see it (:class:`Viewer`), the columns and the
scope lock's name."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from glimpse.db.models import ArtifactPropertyRow, ArtifactRow, ArtifactTagRow

A = ArtifactRow.__table__.c
P = ArtifactPropertyRow.__table__.c
T = ArtifactTagRow.__table__.c

VALUE_COLUMNS = {
    "String": "string_value",
    "Link": "string_value",
    "Integer": "int_value",
    "Float": "numeric_value",
    "Boolean": "bool_value",
}
COLUMN_FIELDS = (
    "id", "type_name", "name", "version", "description", "visibility", "status", "owner", "display_type_name",
    "created_at", "updated_at", "activated_at",
)  # fmt: skip


@dataclass
class ArtifactRecord:
    """One artifact as stored: its columns, tags, property values by field and blobs by field."""

    columns: dict[str, Any]
    tags: list[str] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)
    blobs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # name -> key ('' plain) -> blob

    @property
    def id(self) -> str:
        value: str = self.columns["id"]
        return value


@dataclass(frozen=True, slots=True)
class Viewer:
    """Whose artifacts a query may see: every project's, or the project's own and the public ones."""

    project_id: str | None
    all_projects: bool


def scope_id(type_name: str, name: str, version: str, owner: str | None, visibility: str) -> str:
    scope = f"{type_name}:{name}:{version}" + (f":{owner}" if visibility != "public" else "")
    return hashlib.sha256(scope.encode()).hexdigest()
