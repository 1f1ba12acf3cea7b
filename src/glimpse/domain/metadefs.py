"""Metadata definitions (metadefs): the catalog of properties, objects and tags other services may put on
their resources, grouped in namespaces and associated with resource types. Pure values and rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from glimpse.errors import BadRequest, Conflict

VISIBILITIES = ("public", "private")
NAMESPACE_SORT_KEYS = ("created_at", "updated_at", "namespace", "display_name", "visibility", "protected", "owner")
OBJECT_SORT_KEYS = ("created_at", "updated_at", "name")
TAG_SORT_KEYS = ("created_at", "updated_at", "name")


@dataclass(frozen=True, slots=True)
class Association:
    """A resource type associated with a namespace, and the prefix its property names take there."""

    name: str
    prefix: str | None = None
    properties_target: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ResourceType:
    name: str
    protected: bool
    created_at: datetime
    updated_at: datetime | None  # None: as a definition file loaded it, never changed since


@dataclass(frozen=True, slots=True)
class MetadefObject:
    name: str
    description: str | None
    required: list[str] | None
    properties: dict[str, Any]
    created_at: datetime
    updated_at: datetime | None  # None: as a definition file loaded it, never changed since


@dataclass(frozen=True, slots=True)
class Property:
    name: str
    schema: dict[str, Any]  # the definition: title, type, description, enum, ...


@dataclass(frozen=True, slots=True)
class Tag:
    name: str
    created_at: datetime
    updated_at: datetime | None  # None: as a definition file loaded it, never changed since


@dataclass(frozen=True, slots=True)
class Namespace:
    namespace: str
    display_name: str | None
    description: str | None
    visibility: str
    protected: bool
    owner: str
    created_at: datetime
    updated_at: datetime | None  # None: as a definition file loaded it, never changed since
    id: int = 0
    associations: list[Association] = field(default_factory=list)

    def with_associations(self, associations: list[Association]) -> Namespace:
        return replace(self, associations=associations)

    def visible_to(self, project_id: str | None, is_admin: bool) -> bool:
        """As Glance: an admin sees every namespace, anyone a public one, a project its own."""
        return is_admin or self.visibility == "public" or (project_id is not None and project_id == self.owner)

    def prefix_for(self, resource_type: str | None) -> str | None:
        """The prefix property names take when this namespace is read for ``resource_type``."""
        if not resource_type:
            return None
        for association in self.associations:
            if association.name == resource_type:
                return association.prefix or None
        return None


def prefixed(properties: Mapping[str, Any], prefix: str | None) -> dict[str, Any]:
    if not prefix:
        return dict(properties)
    return {prefix + name: value for name, value in properties.items()}


def prefixed_object(obj: MetadefObject, prefix: str | None) -> MetadefObject:
    if not prefix:
        return obj
    required = [prefix + name for name in obj.required] if obj.required else obj.required
    return replace(obj, properties=prefixed(obj.properties, prefix), required=required)


def tag_key(name: str) -> str:
    """Tag names are unique in a namespace regardless of case, as in Glance."""
    return name.casefold()


def check_unique_tags(names: list[str], namespace: str) -> None:
    seen: set[str] = set()
    for name in names:
        if tag_key(name) in seen:
            raise DuplicateTagInRequest(name, namespace)
        seen.add(tag_key(name))


class DuplicateTagInRequest(Conflict):
    def __init__(self, name: str, namespace: str) -> None:
        super().__init__(
            f"A metadata tag with name={name} already exists in namespace={namespace}. "
            "(Please note that metadata tag names are case insensitive)."
        )
        self.name = name


def parse_sort(sort_key: str | None, sort_dir: str | None, keys: tuple[str, ...]) -> tuple[str, str]:
    key = sort_key or "created_at"
    direction = sort_dir or "desc"
    if direction not in ("asc", "desc"):
        raise BadRequest(f"Invalid sort direction: {direction}")
    if key not in keys:
        raise BadRequest(f"Invalid sort key: {key}. It should be one of the following: {', '.join(keys)}.")
    return key, direction


def parse_limit(raw: str | None, default: int, maximum: int) -> int:
    if raw is None:
        return min(default, maximum)
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest("limit param must be an integer") from None
    if value < 0:
        raise BadRequest("limit param must be positive")
    return min(value, maximum)


def parse_visibility(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if raw not in VISIBILITIES:
        raise BadRequest(f"Invalid visibility value: {raw}")
    return raw


def parse_resource_types(raw: str | None) -> list[str]:
    """``resource_types=OS::Glance::Image,OS::Cinder::Volume`` (comma separated)."""
    if not raw:
        return []
    return [name.strip() for name in raw.split(",") if name.strip()]
