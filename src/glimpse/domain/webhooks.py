"""Webhooks: which events a project (or, for a global one, the whole cloud) wants at which URL, and how a
delivery is formatted, signed and retried. Pure: no I/O.

A delivery's body is a CloudEvents 1.0 event in the structured JSON mode; its signature follows the
Standard Webhooks scheme: ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature: v1,<base64>``, the
HMAC-SHA256 of ``<id>.<timestamp>.<body>`` keyed with the webhook's secret (``whsec_<base64 key>``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from glimpse.domain.ids import name_id
from glimpse.errors import BadRequest

SECRET_PREFIX = "whsec_"
EVERY_EVENT = "*"
EVENT_TYPE_PREFIX = "org.openstack.glance."  # CloudEvents ``type``: reverse-DNS prefix + Glance's event type
CONTENT_TYPE = "application/cloudevents+json"
MAX_EVENT_FILTERS = 32
_DELIVERY_IDS = uuid.UUID("5c0e7a52-3f0b-4f43-9d64-8f1f2b7a6e21")  # the namespace of delivery ids (uuid5)


class WebhookStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"  # too many failed attempts in a row: nothing more is sent


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SUCCEEDED = "succeeded"  # the receiver answered 2xx
    FAILED = "failed"  # every attempt failed, or the webhook was disabled or deleted first


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    project_id: str | None  # None: a global webhook (an admin's): every project's events
    url: str
    events: tuple[str, ...]  # event types or groups (``image``, ``image.member``, ``image.create``) or ``*``
    secret: str
    audience: tuple[str, ...]  # the roles its payloads are filtered for (its creator's)
    description: str
    status: WebhookStatus
    failures: int  # failed attempts in a row
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime

    def wants(self, event_type: str, project_id: str | None) -> bool:
        """Whether this webhook receives ``event_type`` about a resource of ``project_id``."""
        if self.status is not WebhookStatus.ACTIVE:
            return False
        if self.project_id is not None and self.project_id != project_id:
            return False
        return matches(event_type, self.events)


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str  # also the ``webhook-id`` header: the same on every attempt, receivers drop duplicates by it
    webhook_id: str
    event_id: str
    event_type: str
    body: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one try of a delivery got: the receiver's status (None: no answer) and why it failed."""

    delivery_id: str
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


def matches(event_type: str, filters: Iterable[str]) -> bool:
    """An entry names an event (``image.create``), a group of them (``image``, ``image.member``), or ``*``."""
    return any(entry in (EVERY_EVENT, event_type) or event_type.startswith(entry + ".") for entry in filters)


def parse_filters(value: Any) -> tuple[str, ...]:
    """The ``events`` of a new webhook: a non-empty list of event names or groups (default: every event)."""
    if value is None:
        return (EVERY_EVENT,)
    if not isinstance(value, list) or not value or len(value) > MAX_EVENT_FILTERS:
        raise BadRequest(f"'events' must be a list of 1 to {MAX_EVENT_FILTERS} event types or groups")
    filters = []
    for entry in value:
        if not isinstance(entry, str) or not entry.strip() or len(entry) > 255 or " " in entry.strip():
            raise BadRequest("Each entry of 'events' must be an event type (image.create), a group (image) or *")
        filters.append(entry.strip())
    return tuple(dict.fromkeys(filters))


def backoff(attempts: int, base: float, cap: float) -> timedelta:
    """The wait after the ``attempts``-th failed try: ``base``, doubled at each further failure, at most ``cap``."""
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def delivery_id(event_id: str, webhook_id: str) -> str:
    """The id of ``event_id``'s delivery to ``webhook_id`` (and its ``webhook-id`` header): the same whichever
    drain sends it, so an event sent again after a drain died carries the id its receiver may have seen."""
    return name_id(_DELIVERY_IDS, f"{event_id}/{webhook_id}")


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, delivery_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header's value for ``body`` sent as ``delivery_id`` at ``timestamp``."""
    mac = hmac.new(_key(secret), f"{delivery_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode("ascii")


def verify(secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    """What a receiver does (tests, docs): any ``v1,`` signature in the header matches."""
    expected = sign(secret, headers["webhook-id"], int(headers["webhook-timestamp"]), body)
    return any(hmac.compare_digest(expected, given) for given in headers.get("webhook-signature", "").split())


def subject_of(payload: Any) -> str | None:
    """The CloudEvents ``subject``: the id of the resource the event is about."""
    if not isinstance(payload, Mapping):
        return None
    for key in ("id", "image_id", "namespace"):
        if isinstance(payload.get(key), str):
            return str(payload[key])
    return None


def cloudevent(event_id: str, event_type: str, source: str, when: datetime, data: Any) -> dict[str, Any]:
    """A CloudEvents 1.0 event (structured JSON mode) carrying ``data``."""
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": EVENT_TYPE_PREFIX + event_type,
        "time": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "datacontenttype": "application/json",
    }
    subject = subject_of(data)
    if subject is not None:
        event["subject"] = subject
    event["data"] = data
    return event
