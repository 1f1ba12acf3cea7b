"""The audit log's entries: who did (or was refused) what, to what, with which outcome. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REFUSED = frozenset({401, 403})


def audited(method: str, status: int) -> bool:
    """Every state-changing request, and every refused one whatever its method."""
    return method in WRITES or status in REFUSED


def outcome(status: int) -> str:
    """``success`` (the request did what it asked), ``denied`` (401, 403) or ``failure`` (anything else)."""
    if status in REFUSED:
        return "denied"
    return "success" if 200 <= status < 400 else "failure"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: str
    created_at: datetime
    request_id: str
    user_id: str | None
    project_id: str | None
    roles: tuple[str, ...]
    method: str
    action: str  # the route: "PATCH /v2/images/{image_id}"
    path: str  # the path as requested, without the query string
    target: str | None  # the resource the path names first (an image's id, a webhook's...)
    status: int
    outcome: str


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """``GET /v2/audit``'s filters: each one given must hold (``since`` inclusive, ``until`` exclusive)."""

    user_id: str | None = None
    project_id: str | None = None
    request_id: str | None = None
    method: str | None = None
    action: str | None = None
    target: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
