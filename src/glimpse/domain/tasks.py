"""Tasks: durable units of background work (imports), run by workers that claim them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class TaskStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    SUCCESS = "success"
    FAILURE = "failure"


class TaskType(StrEnum):
    IMPORT = "import"  # the legacy tasks-API import
    API_IMAGE_IMPORT = "api_image_import"  # POST /v2/images/{id}/import
    LOCATION_IMPORT = "location_import"
    OUTBOX_DRAIN = "outbox_drain"  # internal: never shown by the tasks API
    ARTIFACT_BLOB_DELETE = "artifact_blob_delete"  # internal: the data of a blob object nothing references
    ARTIFACT_SCRUB = "artifact_scrub"  # internal: remove an artifact deleted with delayed_delete
    CACHE_IMAGE = "cache_image"  # internal: fill one node's image cache (PUT /v2/cache/{id})
    WEBHOOK_DISPATCH = "webhook_dispatch"  # internal: send the due webhook deliveries
    CATALOG_REFRESH = "catalog_refresh"  # internal: refresh the subscribed catalogs' signed metadata
    CATALOG_INSTALL = "catalog_install"  # POST /catalog/v1/assets/{name}/{version}/install (shown there)


PUBLIC_TYPES = frozenset({TaskType.IMPORT, TaskType.API_IMAGE_IMPORT, TaskType.LOCATION_IMPORT})
"""The task types the tasks API shows (Glance's); the others are Glimpse's own housekeeping."""


FINISHED = frozenset({TaskStatus.SUCCESS, TaskStatus.FAILURE})


@dataclass(slots=True)
class Task:
    id: str
    type: TaskType
    status: TaskStatus
    owner: str | None
    created_at: datetime
    updated_at: datetime
    input: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    message: str = ""
    image_id: str | None = None
    user_id: str | None = None
    request_id: str | None = None
    expires_at: datetime | None = None
    attempts: int = 0
    bytes_done: int = 0
    bytes_total: int | None = None
    claimed_by: str | None = None  # the worker running it (its fencing token while processing)
    node: str | None = None  # only a worker of this node may run it (None: any worker)
