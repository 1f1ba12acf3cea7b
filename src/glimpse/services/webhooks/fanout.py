"""The fan-out (an outbox ``Fanout``): delivered outbox events into one delivery per webhook that wants each,
their first attempts made once the drain committed."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from glimpse.db.repositories.webhooks import WebhookRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.images import new_id
from glimpse.domain.outbox import OutboxMessage
from glimpse.domain.webhooks import (
    Delivery,
    DeliveryStatus,
    Webhook,
    cloudevent,
)
from glimpse.events.emit import project_of
from glimpse.events.notifier import Audience, for_audience
from glimpse.services.webhooks.attempts import Attempts


class FanOut(Attempts):
    """What the outbox drain calls inside the transaction that marks its events delivered."""

    def fan_out(self, session: Any, messages: Sequence[OutboxMessage]) -> Callable[[], Awaitable[None]] | None:
        """One delivery per (message, webhook that wants it), in the drain's ending transaction, already
        taken for its first attempt; what to run once that transaction committed: the attempts (the drain
        makes them, so a burst of events costs no dispatch task). A process that dies first leaves them due
        when their lease ends, for the sweep's dispatch."""
        if not messages:
            return None
        repo = WebhookRepository(session)
        projects = {project for message in messages if (project := project_of(message.payload)) is not None}
        webhooks = repo.active(projects)
        if not webhooks:
            return None
        now = utcnow()
        lease = self._lease(now)
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
                    id=new_id(),
                    webhook_id=webhook.id,
                    event_id=message.id,
                    event_type=message.topic,
                    body=json.dumps(event, separators=(",", ":"), ensure_ascii=False),
                    status=DeliveryStatus.PENDING,
                    attempts=1,  # this one, made once the drain committed
                    next_attempt_at=lease,
                    last_status_code=None,
                    last_error=None,
                    created_at=message.created_at,  # when the event happened: the order of delivery
                    updated_at=now,
                )
                taken.append((delivery, webhook))
        if not taken:
            return None
        repo.add_deliveries([delivery for delivery, _ in taken])

        async def first_attempts() -> None:
            pairs = await self._attempt(taken)
            await self.db.run(lambda s: self._record(s, pairs))

        return first_attempts
