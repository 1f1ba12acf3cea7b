"""Webhooks and their deliveries: the rows, the due deliveries a dispatch claims, and each attempt's record."""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from glimpse.db.dialects import insert_ignoring_conflicts
from glimpse.db.models import TaskRow, WebhookDeliveryRow, WebhookRow
from glimpse.domain.tasks import TaskStatus, TaskType
from glimpse.domain.webhooks import Delivery, DeliveryStatus, Webhook, WebhookStatus

_DELIVERIES = cast(Table, WebhookDeliveryRow.__table__)
_WEBHOOKS = cast(Table, WebhookRow.__table__)
# prebuilt Core statements of the outbox drain (once per batch each): building them cost more than running them
_ACTIVE = (
    select(_WEBHOOKS)
    .where(
        _WEBHOOKS.c.status == WebhookStatus.ACTIVE.value,
        or_(_WEBHOOKS.c.project_id.is_(None), _WEBHOOKS.c.project_id.in_(bindparam("projects", expanding=True))),
    )
    .order_by(_WEBHOOKS.c.created_at, _WEBHOOKS.c.id)
)
_STATES = select(_WEBHOOKS.c.id, _WEBHOOKS.c.status, _WEBHOOKS.c.failures).where(
    _WEBHOOKS.c.id.in_(bindparam("ids", expanding=True))
)


def _webhook(row: Any) -> Webhook:
    """A webhook from a ``WebhookRow`` or a Core row of ``webhooks``."""
    return Webhook(
        id=row.id, project_id=row.project_id, url=row.url, events=tuple(row.events or ()), secret=row.secret,
        audience=tuple(row.audience or ()), description=row.description or "", status=WebhookStatus(row.status),
        failures=row.failures, disabled_reason=row.disabled_reason, created_at=row.created_at,
        updated_at=row.updated_at,
    )  # fmt: skip


def _delivery(row: WebhookDeliveryRow) -> Delivery:
    return Delivery(
        id=row.id, webhook_id=row.webhook_id, event_id=row.event_id, event_type=row.event_type, body=row.body,
        status=DeliveryStatus(row.status), attempts=row.attempts, next_attempt_at=row.next_attempt_at,
        last_status_code=row.last_status_code, last_error=row.last_error, created_at=row.created_at,
        updated_at=row.updated_at,
    )  # fmt: skip


class WebhookRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- webhooks -------------------------------------------------------------------------------------
    def add(self, webhook: Webhook) -> None:
        self.session.add(
            WebhookRow(
                id=webhook.id,
                project_id=webhook.project_id,
                url=webhook.url,
                events=list(webhook.events),
                secret=webhook.secret,
                audience=list(webhook.audience),
                description=webhook.description,
                status=webhook.status.value,
                failures=webhook.failures,
                disabled_reason=webhook.disabled_reason,
                created_at=webhook.created_at,
                updated_at=webhook.updated_at,
            )
        )
        self.session.flush()

    def get(self, webhook_id: str) -> Webhook | None:
        row = self.session.get(WebhookRow, webhook_id)
        return None if row is None else _webhook(row)

    def of_project(self, project_id: str | None, *, every_project: bool = False) -> list[Webhook]:
        """A project's webhooks; with ``every_project``, all of them (the global ones too)."""
        stmt = select(WebhookRow).order_by(WebhookRow.created_at, WebhookRow.id)
        if not every_project:
            stmt = stmt.where(WebhookRow.project_id == project_id)
        return [_webhook(row) for row in self.session.scalars(stmt)]

    def count(self, project_id: str | None) -> int:
        owner = WebhookRow.project_id.is_(None) if project_id is None else WebhookRow.project_id == project_id
        return int(self.session.scalar(select(func.count()).select_from(WebhookRow).where(owner)) or 0)

    def update(
        self, webhook_id: str, now: datetime, *, status: WebhookStatus | None = None,
        events: Sequence[str] | None = None, description: str | None = None,
    ) -> Webhook | None:  # fmt: skip
        """Change what is given; ``active`` starts the count of failures again, ``disabled`` fails what was
        pending. None: no such webhook."""
        row = self.session.get(WebhookRow, webhook_id, with_for_update=True)
        if row is None:
            return None
        if status is WebhookStatus.ACTIVE:
            row.status, row.failures, row.disabled_reason = status.value, 0, None
        elif status is WebhookStatus.DISABLED and row.status != status.value:
            row.status, row.disabled_reason = status.value, "disabled through the API"
            self._fail_pending(webhook_id, now)
        if events is not None:
            row.events = list(events)
        if description is not None:
            row.description = description
        row.updated_at = now
        self.session.flush()
        return _webhook(row)

    def secrets(self) -> list[tuple[str, str]]:
        """Every webhook's id and stored secret."""
        return [(str(i), str(secret)) for i, secret in self.session.execute(select(WebhookRow.id, WebhookRow.secret))]

    def set_secret(self, webhook_id: str, stored: str) -> None:
        self.session.execute(update(WebhookRow).where(WebhookRow.id == webhook_id).values(secret=stored))

    def delete(self, webhook_id: str) -> bool:
        """Remove a webhook and its delivery log (what was still pending is never sent)."""
        self.session.execute(delete(WebhookDeliveryRow).where(WebhookDeliveryRow.webhook_id == webhook_id))
        result = self.session.execute(delete(WebhookRow).where(WebhookRow.id == webhook_id))
        return bool(getattr(result, "rowcount", 0))

    def active(self, projects: Collection[str]) -> list[Webhook]:
        """The active webhooks of ``projects`` and the global ones: who may want a batch of events."""
        return [_webhook(row) for row in self.session.execute(_ACTIVE, {"projects": sorted(projects)})]

    def states(self, ids: Collection[str]) -> dict[str, tuple[WebhookStatus, int]]:
        """The status and count of failures in a row of the webhooks of ``ids`` that still exist."""
        if not ids:
            return {}
        found = self.session.execute(_STATES, {"ids": sorted(ids)})
        return {str(i): (WebhookStatus(status), int(failures)) for i, status, failures in found}

    def succeeded(self, webhook_id: str) -> None:
        self.session.execute(
            update(WebhookRow).where(WebhookRow.id == webhook_id, WebhookRow.failures != 0).values(failures=0)
        )

    def failed(self, webhook_id: str, now: datetime, disable_after: int) -> bool:
        """Count a failed attempt; True when that was one too many and the webhook is now disabled."""
        row = self.session.get(WebhookRow, webhook_id)
        if row is None or row.status != WebhookStatus.ACTIVE.value:
            return False
        row.failures += 1
        if row.failures < disable_after:
            return False
        row.status = WebhookStatus.DISABLED.value
        row.disabled_reason = f"{row.failures} delivery attempts failed in a row"
        row.updated_at = now
        self._fail_pending(webhook_id, now)
        return True

    def _fail_pending(self, webhook_id: str, now: datetime) -> None:
        self.session.execute(
            update(WebhookDeliveryRow)
            .where(
                WebhookDeliveryRow.webhook_id == webhook_id,
                WebhookDeliveryRow.status == DeliveryStatus.PENDING.value,
            )
            .values(status=DeliveryStatus.FAILED.value, next_attempt_at=None, updated_at=now,
                    last_error=func.coalesce(WebhookDeliveryRow.last_error, "the webhook was disabled"))
        )  # fmt: skip

    # -- deliveries -----------------------------------------------------------------------------------
    def add_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        """One executemany INSERT (Core: the fan-out of a drain's batch; the rows are spelled out because
        ``dataclasses.asdict`` deep-copies every field, which cost more than the INSERT). A delivery already
        recorded (its id is its event's and its webhook's) is left as it is."""
        if not deliveries:
            return
        rows = [
            {
                "id": d.id,
                "webhook_id": d.webhook_id,
                "event_id": d.event_id,
                "event_type": d.event_type,
                "body": d.body,
                "status": d.status.value,
                "attempts": d.attempts,
                "next_attempt_at": d.next_attempt_at,
                "last_status_code": d.last_status_code,
                "last_error": d.last_error,
                "created_at": d.created_at,
                "updated_at": d.updated_at,
            }
            for d in deliveries
        ]
        self.session.execute(insert_ignoring_conflicts(self.session, _DELIVERIES), rows)

    def _due(self, now: datetime) -> ColumnElement[bool]:
        return and_(
            WebhookDeliveryRow.status == DeliveryStatus.PENDING.value,
            WebhookDeliveryRow.next_attempt_at <= now,
        )

    def any_due(self, now: datetime) -> bool:
        stmt = select(WebhookDeliveryRow.id).where(self._due(now)).limit(1)
        return self.session.scalar(stmt) is not None

    def claim_due(self, now: datetime, limit: int, lease_until: datetime) -> list[tuple[Delivery, Webhook]]:
        """Take up to ``limit`` due deliveries (oldest first) for one attempt each: their next attempt moves
        to ``lease_until`` (a dispatch that dies leaves them due again then) and their attempts go up by one.
        One UPDATE for the batch, guarded by the due condition; ``lease_until`` (unique to this claim, to the
        microsecond) then tells which rows this claim took, so two dispatches never take the same delivery."""
        token = lease_until.replace(microsecond=secrets.randbelow(1_000_000))
        candidates = select(WebhookDeliveryRow.id).where(self._due(now))
        candidates = candidates.order_by(WebhookDeliveryRow.next_attempt_at, WebhookDeliveryRow.created_at)
        ids = list(self.session.scalars(candidates.limit(limit)))
        if not ids:
            return []
        self.session.execute(
            update(WebhookDeliveryRow)
            .where(WebhookDeliveryRow.id.in_(ids), self._due(now))
            .values(next_attempt_at=token, attempts=WebhookDeliveryRow.attempts + 1, updated_at=now)
        )
        rows = self.session.execute(
            select(WebhookDeliveryRow, WebhookRow)
            .join(WebhookRow, WebhookRow.id == WebhookDeliveryRow.webhook_id)
            .where(WebhookDeliveryRow.id.in_(ids), WebhookDeliveryRow.next_attempt_at == token)
            .order_by(WebhookDeliveryRow.created_at, WebhookDeliveryRow.id)
            .execution_options(populate_existing=True)
        ).all()
        return [(_delivery(delivery), _webhook(webhook)) for delivery, webhook in rows]

    def record(
        self, delivery_id: str, now: datetime, *, status: DeliveryStatus, next_attempt_at: datetime | None,
        status_code: int | None, error: str | None,
    ) -> None:  # fmt: skip
        self.session.execute(
            update(WebhookDeliveryRow)
            .where(WebhookDeliveryRow.id == delivery_id, WebhookDeliveryRow.status == DeliveryStatus.PENDING.value)
            .values(status=status.value, next_attempt_at=next_attempt_at, last_status_code=status_code,
                    last_error=error, updated_at=now)
        )  # fmt: skip

    def record_many(
        self, ids: Sequence[str], now: datetime, *, status: DeliveryStatus, status_code: int | None
    ) -> None:
        """Several attempts that ended alike (the successes of a dispatch): one statement. A succeeded
        delivery keeps no body: nothing sends it again."""
        values = {"body": ""} if status is DeliveryStatus.SUCCEEDED else {}
        self.session.execute(
            update(WebhookDeliveryRow)
            .where(WebhookDeliveryRow.id.in_(list(ids)), WebhookDeliveryRow.status == DeliveryStatus.PENDING.value)
            .values(status=status.value, next_attempt_at=None, last_status_code=status_code, last_error=None,
                    updated_at=now, **values)
        )  # fmt: skip

    def deliveries(self, webhook_id: str, limit: int, marker: str | None = None) -> list[Delivery]:
        """A webhook's delivery log, newest first; ``marker``: after that delivery."""
        stmt = select(WebhookDeliveryRow).where(WebhookDeliveryRow.webhook_id == webhook_id)
        if marker is not None:
            after = self.session.get(WebhookDeliveryRow, marker)
            if after is None or after.webhook_id != webhook_id:
                return []
            stmt = stmt.where(
                or_(
                    WebhookDeliveryRow.created_at < after.created_at,
                    (WebhookDeliveryRow.created_at == after.created_at) & (WebhookDeliveryRow.id < after.id),
                )
            )
        stmt = stmt.order_by(WebhookDeliveryRow.created_at.desc(), WebhookDeliveryRow.id.desc()).limit(limit)
        return [_delivery(row) for row in self.session.scalars(stmt)]

    def dispatch_pending(self) -> bool:
        """Whether a dispatch task is already waiting to run."""
        stmt = select(TaskRow.id).where(
            TaskRow.type == TaskType.WEBHOOK_DISPATCH.value, TaskRow.status == TaskStatus.PENDING.value
        )
        return self.session.scalar(stmt.limit(1)) is not None

    def delivery_exists(self, delivery_id: str) -> bool:
        return self.session.get(WebhookDeliveryRow, delivery_id) is not None
