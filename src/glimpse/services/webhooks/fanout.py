"""The fan-out (an outbox ``Fanout``): the events a drain delivered, sent to every webhook that wants each
before the drain's ending transaction, which records one delivery per (event, webhook) with its first
attempt's outcome."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import Any

from glimpse.db.repositories.webhooks import WebhookRepository
from glimpse.domain import jsontext
from glimpse.domain.clock import utcnow
from glimpse.domain.outbox import OutboxMessage
from glimpse.domain.webhooks import (
    Delivery,
    DeliveryStatus,
    Webhook,
    WebhookStatus,
    cloudevent,
    delivery_id,
)
from glimpse.events.emit import project_of
from glimpse.events.notifier import Audience, for_audience
from glimpse.services.outbox import Record
from glimpse.services.webhooks.attempts import Attempts, Pairs


class FanOut(Attempts):
    """What the outbox drain calls: ``prepare`` as it reads its messages, ``fan_out`` once its sinks took them."""

    def prepare(self, session: Any, messages: Sequence[OutboxMessage]) -> list[Webhook]:
        """The active webhooks that may want some of ``messages`` (their projects' and the global ones)."""
        if not messages:
            return []
        projects = {project for message in messages if (project := project_of(message.payload)) is not None}
        return WebhookRepository(session).active(projects)

    async def fan_out(self, webhooks: list[Webhook], messages: Sequence[OutboxMessage]) -> Record | None:
        """The first attempt of one delivery per (message, webhook that wants it), made now; what records
        them in the drain's ending transaction. A drain that dies before that transaction leaves the messages
        to the next drain, which sends them again as the same deliveries (their id is the event's and the
        webhook's): at least once, with the id a receiver drops duplicates by."""
        if not webhooks:
            return None
        now = utcnow()
        memo: dict[tuple[str, ...], dict[str, bool]] = {}
        taken: list[tuple[Delivery, Webhook]] = []
        for message in messages:
            project = project_of(message.payload)
            for webhook in webhooks:
                if not webhook.wants(message.topic, project):
                    continue
                shown = for_audience(
                    message.payload.get("payload"), Audience(webhook.audience), self.protections,
                    memo.setdefault(webhook.audience, {}),
                )  # fmt: skip
                event = cloudevent(message.id, message.topic, self.source, message.created_at, shown)
                delivery = Delivery(
                    id=delivery_id(message.id, webhook.id),
                    webhook_id=webhook.id,
                    event_id=message.id,
                    event_type=message.topic,
                    body=jsontext.dumps(event),
                    status=DeliveryStatus.PENDING,
                    attempts=1,
                    next_attempt_at=None,
                    last_status_code=None,
                    last_error=None,
                    created_at=message.created_at,  # when the event happened: the order of delivery
                    updated_at=now,
                )
                taken.append((delivery, webhook))
        if not taken:
            return None
        pairs = await self._attempt(taken)

        def record(session: Any, removed: Collection[str]) -> None:
            self._record_first(session, [pair for pair in pairs if pair[0][0].event_id in removed])

        return record

    def _record_first(self, session: Any, pairs: Pairs) -> None:
        """The deliveries of first attempts, each as its attempt left it (a success keeps no body: nothing
        sends it again), and their webhooks' counts of failures. A webhook deleted since the drain read it
        gets no delivery; one disabled since, no retry."""
        repo = WebhookRepository(session)
        now = utcnow()
        states = repo.states({webhook.id for (_, webhook), _ in pairs})
        kept = [pair for pair in pairs if pair[0][1].id in states]
        rows = []
        for (delivery, webhook), attempt in kept:
            status, next_attempt_at = self._after(delivery, attempt, now)
            if status is DeliveryStatus.PENDING and states[webhook.id][0] is not WebhookStatus.ACTIVE:
                status, next_attempt_at = DeliveryStatus.FAILED, None
            rows.append(
                replace(
                    delivery, status=status, next_attempt_at=next_attempt_at, last_status_code=attempt.status_code,
                    last_error=attempt.error, updated_at=now, body="" if attempt.ok else delivery.body,
                )
            )  # fmt: skip
        repo.add_deliveries(rows)
        self._count(repo, kept, now, clean=[webhook_id for webhook_id, (_, failures) in states.items() if not failures])
