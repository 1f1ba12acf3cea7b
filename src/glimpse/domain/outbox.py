"""The outbox: messages about changes, recorded with the change and delivered after it committed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: str
    topic: str  # what happened, e.g. "image.update"
    created_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)
    delivered_at: datetime | None = None
