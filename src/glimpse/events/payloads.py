"""Glance's notification payloads, key for key (consumers such as Ceilometer read them unchanged).

Locations are never part of a payload (their URLs may carry store credentials), nor is a task's input
(it may hold credentials too); the request context is not sent either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from glimpse.domain.clock import utcnow
from glimpse.domain.images import Image, Member
from glimpse.domain.metadefs import Association, MetadefObject, Namespace, Property, Tag
from glimpse.domain.tasks import Task
from glimpse.errors import (
    BadRequest,
    Conflict,
    GlimpseError,
    NotFound,
    StorageFull,
    StorageWriteDenied,
    TooLarge,
    UnsupportedMediaType,
)

IMPORTING_TO = "os_glance_importing_to_stores"
FAILED_IMPORT = "os_glance_failed_import"


def isotime(when: datetime | None) -> str | None:
    """Glance's timestamps in payloads: ``2026-12-06T02:10:11Z`` (seconds, UTC)."""
    return None if when is None else when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _deleted(payload: dict[str, Any], deleted: bool) -> dict[str, Any]:
    payload["deleted"] = deleted
    payload["deleted_at"] = isotime(utcnow()) if deleted else None
    return payload


def image(image: Image, *, deleted: bool = False) -> dict[str, Any]:
    """``image.create|update|delete|activate`` (and, with :func:`import_state`, prepare and upload)."""
    return _deleted(
        {
            "id": image.id,
            "name": image.name,
            "status": image.status.value,
            "created_at": isotime(image.created_at),
            "updated_at": isotime(image.updated_at),
            "min_disk": image.min_disk,
            "min_ram": image.min_ram,
            "protected": image.protected,
            "checksum": image.checksum,
            "owner": image.owner,
            "disk_format": image.disk_format,
            "container_format": image.container_format,
            "size": image.size,
            "virtual_size": image.virtual_size,
            "is_public": image.visibility.value == "public",
            "visibility": image.visibility.value,
            "properties": dict(image.properties),
            "tags": sorted(image.tags),
        },
        deleted,
    )


def image_data(image_: Image, *, backend: str | None = None) -> dict[str, Any]:
    """``image.prepare`` and ``image.upload``: the image with its import state as lists (and the store)."""
    payload = image(image_)
    for name in (IMPORTING_TO, FAILED_IMPORT):
        value = image_.properties.get(name, "")
        payload[name] = [item for item in value.split(",") if item]
    if backend is not None:
        payload["backend"] = backend
    return payload


def upload_failure(image_id: str, error: BaseException) -> str:
    """``image.upload`` at ERROR priority: as Glance, a failed upload's payload is a sentence saying why (the
    same text the client was answered), not the image."""
    reason = error.message if isinstance(error, GlimpseError) else type(error).__name__
    if isinstance(error, StorageFull):
        return f"The image store is full: {reason}"
    if isinstance(error, StorageWriteDenied):
        return f"Not permitted to write to the image store: {reason}"
    if isinstance(error, NotFound):
        return f"Image {image_id} was not found when its upload ended (deleted meanwhile?): {reason}"
    if isinstance(error, BadRequest | TooLarge | UnsupportedMediaType | Conflict):
        return f"Cannot store the data of image {image_id}: {reason}"
    if isinstance(error, asyncio.CancelledError):
        return f"The upload of image {image_id} was interrupted"
    return f"The upload of image {image_id} failed: {reason}"


def import_failure(image_id: str, method: str, reason: str) -> str:
    """``image.upload`` at ERROR priority for an import task that failed (the task's own message says why)."""
    return f"The {method} import of image {image_id} failed: {reason}"


def member(member: Member, *, deleted: bool = False) -> dict[str, Any]:
    """``image.member.create|update|delete``."""
    return _deleted(
        {
            "image_id": member.image_id,
            "member_id": member.member_id,
            "status": member.status.value,
            "created_at": isotime(member.created_at),
            "updated_at": isotime(member.updated_at),
        },
        deleted,
    )


def task(task: Task, *, deleted: bool = False) -> dict[str, Any]:
    """``task.create|processing|success|failure``: never the input nor the result (they may hold secrets)."""
    return _deleted(
        {
            "id": task.id,
            "type": task.type.value,
            "status": task.status.value,
            "result": None,
            "owner": task.owner,
            "message": None,
            "expires_at": isotime(task.expires_at),
            "created_at": isotime(task.created_at),
            "updated_at": isotime(task.updated_at),
        },
        deleted,
    )


def send(image: Image, bytes_sent: int, receiver_project: str | None, receiver_user: str | None) -> dict[str, Any]:
    """``image.send``: who received how much of whose image."""
    return {
        "bytes_sent": bytes_sent,
        "image_id": image.id,
        "owner_id": image.owner,
        "receiver_tenant_id": receiver_project,
        "receiver_user_id": receiver_user,
    }


# -- metadata definitions -----------------------------------------------------------------------------------
_PROPERTY_KEYS = (
    "type", "title", "description", "default", "minimum", "maximum", "enum", "pattern", "minLength", "maxLength",
    "confidential", "items", "uniqueItems", "minItems", "maxItems", "additionalItems",
)  # fmt: skip


def metadef_namespace(ns: Namespace, *, old_name: str | None = None, deleted: bool = False) -> dict[str, Any]:
    """``metadef_namespace.create|update|delete|delete_objects|delete_properties|delete_tags``."""
    return _deleted(
        {
            "namespace": ns.namespace,
            "namespace_old": old_name or ns.namespace,
            "display_name": ns.display_name,
            "protected": ns.protected,
            "visibility": ns.visibility,
            "owner": ns.owner,
            "description": ns.description,
            "created_at": isotime(ns.created_at),
            "updated_at": isotime(ns.updated_at),
        },
        deleted,
    )


def _property_schema(name: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": name, **{key: schema.get(key) for key in _PROPERTY_KEYS}}


def metadef_object(
    namespace: str, obj: MetadefObject, *, old_name: str | None = None, deleted: bool = False
) -> dict[str, Any]:
    """``metadef_object.create|update|delete``: its property definitions with Glance's keys."""
    return _deleted(
        {
            "namespace": namespace,
            "name": obj.name,
            "name_old": old_name or obj.name,
            "properties": [_property_schema(name, schema) for name, schema in (obj.properties or {}).items()],
            "required": obj.required,
            "description": obj.description,
            "created_at": isotime(obj.created_at),
            "updated_at": isotime(obj.updated_at),
        },
        deleted,
    )


def metadef_property(
    namespace: str, prop: Property, *, old_name: str | None = None, deleted: bool = False
) -> dict[str, Any]:
    """``metadef_property.create|update|delete``."""
    payload = _property_schema(prop.name, prop.schema)
    payload.update(namespace=namespace, name_old=old_name or prop.name)
    return _deleted(payload, deleted)


def metadef_tag(namespace: str, tag: Tag, *, old_name: str | None = None, deleted: bool = False) -> dict[str, Any]:
    """``metadef_tag.create|update|delete``."""
    return _deleted(
        {
            "namespace": namespace,
            "name": tag.name,
            "name_old": old_name or tag.name,
            "created_at": isotime(tag.created_at),
            "updated_at": isotime(tag.updated_at),
        },
        deleted,
    )


def metadef_resource_type(namespace: str, association: Association, *, deleted: bool = False) -> dict[str, Any]:
    """``metadef_resource_type.create|delete``: a resource type associated with (or taken from) a namespace."""
    return _deleted(
        {
            "namespace": namespace,
            "name": association.name,
            "name_old": association.name,
            "prefix": association.prefix,
            "properties_target": association.properties_target,
            "created_at": isotime(association.created_at),
            "updated_at": isotime(association.updated_at),
        },
        deleted,
    )
