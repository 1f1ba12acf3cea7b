"""Artifact types: a type is a small declarative class naming its fields; every type has the base fields.

    class Recipe(ArtifactType):
        type_name = "recipes"
        display_type_name = "Recipe"
        fields = {"servings": Integer(required_on_activate=False), "photo": Blob(required_on_activate=False)}

Operators enable types by name (``[DEFAULT] enabled_artifact_types``) and add their own through the
``glimpse.artifact_types`` entry point group (each entry point names such a class).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from glimpse.domain.artifacts import fields as f
from glimpse.domain.artifacts import validators as v

STATUSES = ("drafted", "active", "deactivated", "deleted")
VISIBILITIES = ("private", "public")
DEFAULT_VERSION = "0.0.0"
# metadata keys whose values may outgrow Glare's 255 characters (Glimpse's): a blob's signature and its
# trusted certificate ids (services/signatures.py, ``blob_properties``), plain or suffixed with ``:<blob>``
LONG_METADATA = frozenset({"img_signature", "img_signature_trusted_certificate_ids"})

# base fields stored as columns of the artifacts table (everything else is a property row or a blob)
BASE_COLUMNS = (
    "id", "name", "owner", "status", "created_at", "updated_at", "activated_at", "description",
    "visibility", "version", "display_type_name",
)  # fmt: skip


def _choice(default: str, allowed: tuple[str, ...], description: str) -> f.Field:
    """A base field holding one of ``allowed`` (status, visibility): never null, sortable, changed in place."""
    return f.String(
        default=default,
        nullable=False,
        sortable=True,
        mutable=True,
        validators=[v.AllowedValues(allowed)],
        description=description,
    )


BASE_FIELDS: dict[str, f.Field] = {
    "id": f.String(system=True, validators=[v.UUID()], nullable=False, sortable=True, description="Artifact UUID."),
    "name": f.String(
        required_on_activate=False,
        nullable=False,
        sortable=True,
        validators=[v.MinStrLen(1)],
        description="Artifact Name.",
        filter_ops=("like", "eq", "neq", "in"),
    ),
    "owner": f.String(
        system=True,
        required_on_activate=False,
        nullable=False,
        sortable=True,
        description="ID of user/tenant who uploaded artifact.",
    ),
    "status": _choice("drafted", STATUSES, "Artifact status."),
    "created_at": f.DateTime(
        system=True, nullable=False, sortable=True, description="Datetime when artifact has been created."
    ),
    "updated_at": f.DateTime(
        system=True,
        nullable=False,
        sortable=True,
        mutable=True,
        description="Datetime when artifact has been updated last time.",
    ),
    "activated_at": f.DateTime(
        system=True,
        required_on_activate=False,
        sortable=True,
        description="Datetime when artifact has became active.",
    ),
    "description": f.String(
        mutable=True,
        required_on_activate=False,
        default="",
        validators=[v.MaxStrLen(4096)],
        filter_ops=(),
        description="Artifact description.",
    ),
    "tags": f.List(
        "String",
        mutable=True,
        required_on_activate=False,
        filter_ops=(),
        validators=[v.Unique(convert_to_set=True)],
        element_validators=[v.ForbiddenChars([",", "/"]), v.MinStrLen(1)],
        description="List of tags added to Artifact.",
    ),
    "metadata": f.Dict(
        "String",
        required_on_activate=False,
        element_validators=[v.MinStrLen(1)],
        long_values=lambda key: key.partition(":")[0] in LONG_METADATA,
        description="Key-value dict with useful information about an artifact.",
    ),
    "visibility": _choice(
        "private", VISIBILITIES, "Artifact visibility that defines if artifact can be available to other users."
    ),
    "version": f.Version(
        required_on_activate=False,
        default=DEFAULT_VERSION,
        nullable=False,
        sortable=True,
        validators=[v.Version()],
        description="Artifact version(semver).",
    ),
    "display_type_name": f.String(
        system=True,
        description="Display name of artifact type.",
        sortable=True,
        filter_ops=("like", "eq", "neq", "in"),
    ),
}


class ArtifactType:
    """Base of every artifact type. Subclasses set ``type_name``, ``display_type_name`` and ``fields``."""

    type_name: ClassVar[str] = ""
    display_type_name: ClassVar[str | None] = None
    version: ClassVar[str] = "1.0"
    fields: ClassVar[Mapping[str, f.Field]] = {}
    # the `all` pseudo-type lists artifacts of every type and shows only the base fields
    is_all: ClassVar[bool] = False

    @classmethod
    def decorate(cls, values: dict[str, Any]) -> dict[str, Any]:
        """A type's last word on how an artifact is shown (the sample type adds a field)."""
        return values

    @classmethod
    def check_upload(cls, head: bytes) -> None:
        """A type may refuse blob data by its first bytes (ValueError)."""
        return None

    @classmethod
    def all_fields(cls) -> dict[str, f.Field]:
        return {**BASE_FIELDS, **cls.fields}

    @classmethod
    def field(cls, name: str) -> f.Field | None:
        return cls.fields.get(name) or BASE_FIELDS.get(name)

    @classmethod
    def blob_fields(cls) -> dict[str, f.Field]:
        return {name: item for name, item in cls.fields.items() if item.is_blob or item.is_folder}

    @classmethod
    def schema(cls) -> dict[str, Any]:
        """The type as Glare's ``/schemas/{type}`` describes it."""
        properties = {}
        for name, item in cls.all_fields().items():
            properties[name] = item.schema(name)
            if name == "status":
                properties[name]["enum"] = list(STATUSES)
        return {
            "properties": properties,
            "name": cls.type_name,
            "version": cls.version,
            "title": f"Artifact type {cls.type_name} of version {cls.version}",
            "type": "object",
            "display_name": cls.display_type_name,
            "required": ["name"],
        }

    @classmethod
    def check(cls) -> None:
        """Refuse a type declared wrongly (a field named like a base field, a name that is not a path segment)."""
        if not cls.type_name or "/" in cls.type_name:
            raise f.IncorrectArtifactType(f"{cls.__name__}: type_name must be a non-empty path segment")
        clash = set(cls.fields) & set(BASE_FIELDS)
        if clash:
            raise f.IncorrectArtifactType(f"{cls.__name__}: fields {sorted(clash)} are base fields")
