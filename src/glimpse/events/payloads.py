"""Glance's notification payloads, key for key (consumers such as Ceilometer read them unchanged).

Locations are never part of a payload (their URLs may carry store credentials), nor is a task's input
(it may hold credentials too); the request context is not sent either.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from glimpse.domain.clock import utcnow
from glimpse.domain.images import Image, Member
from glimpse.domain.tasks import Task

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
