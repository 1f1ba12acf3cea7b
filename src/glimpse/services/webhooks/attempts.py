"""Attempts: taken deliveries signed and POSTed through the SSRF guard (each webhook's in order, webhooks in
parallel), and each outcome recorded (backoff, failure, a failing webhook disabled)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from glimpse.db.repositories.webhooks import WebhookRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.webhooks import (
    CONTENT_TYPE,
    Attempt,
    Delivery,
    DeliveryStatus,
    Webhook,
    backoff,
    sign,
)
from glimpse.keys.local import SecretUnreadable
from glimpse.services import fetch
from glimpse.services.webhooks.base import WebhookBase

log = logging.getLogger("glimpse.services.webhooks")  # the package's name: what operators filter on

Pairs = Sequence[tuple[tuple[Delivery, Webhook], Attempt]]
"""Taken deliveries (with their webhook) and what their attempt got."""
PARALLEL = 8  # attempts in flight at once within a dispatch


class Attempts(WebhookBase):
    """What the fan-out's first attempts and the dispatch's retries share."""

    def _lease(self, now: datetime) -> datetime:
        """Until when an attempt keeps its delivery: a dispatch (or drain) that dies leaves it due again then."""
        return now + timedelta(seconds=2 * self.settings.webhook_timeout + 30)

    async def _send(self, webhook: Webhook, deliveries: Sequence[Delivery]) -> list[Attempt]:
        """One webhook's deliveries, in order, over one connection to its checked address."""
        try:
            secret = self._signing_secret(webhook)
        except SecretUnreadable as exc:
            return [Attempt(delivery.id, None, f"{exc}: nothing was sent") for delivery in deliveries]
        timestamp = int(time.time())
        requests = []
        for delivery in deliveries:
            body = delivery.body.encode()
            headers = {
                "Content-Type": CONTENT_TYPE,
                "webhook-id": delivery.id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(secret, delivery.id, timestamp, body),
            }
            requests.append((body, headers))
        answers = await fetch.post_each(
            webhook.url, requests, self.web, resolver=self.resolver, depth=self.settings.webhook_pipeline
        )
        attempts = []
        for delivery, (status, error) in zip(deliveries, answers, strict=True):
            if error is None and status is not None and not 200 <= status < 300:
                error = f"the receiver answered {status}"
            attempts.append(Attempt(delivery.id, status, error))
        return attempts

    async def _attempt(self, claimed: Sequence[tuple[Delivery, Webhook]]) -> Pairs:
        """One attempt of each taken delivery: one webhook's one after another, in the order of their events;
        webhooks in parallel."""
        queues: dict[str, tuple[Webhook, list[Delivery]]] = {}
        for delivery, webhook in claimed:
            queues.setdefault(webhook.id, (webhook, []))[1].append(delivery)
        slots = asyncio.Semaphore(PARALLEL)
        outcomes: dict[str, Attempt] = {}

        async def send(webhook: Webhook, deliveries: list[Delivery]) -> None:
            async with slots:
                for attempt in await self._send(webhook, deliveries):
                    outcomes[attempt.delivery_id] = attempt

        await asyncio.gather(*(send(webhook, deliveries) for webhook, deliveries in queues.values()))
        pairs = [(pair, outcomes[pair[0].id]) for pair in claimed]
        for (delivery, webhook), attempt in pairs:
            if not attempt.ok:
                log.warning(
                    "webhook %s: delivery %s (%s) attempt %d to %s failed: %s", webhook.id, delivery.id,
                    delivery.event_type, delivery.attempts, fetch.redact(webhook.url), attempt.error,
                )  # fmt: skip
        return pairs

    def _after(self, delivery: Delivery, attempt: Attempt, now: datetime) -> tuple[DeliveryStatus, datetime | None]:
        """A delivery's status and next attempt once ``attempt`` (its ``delivery.attempts``-th) is recorded: a
        failure waits ``backoff * 2^(n-1)`` (at most ``backoff_max``), and the ``max_attempts``-th fails it."""
        if attempt.ok:
            return DeliveryStatus.SUCCEEDED, None
        s = self.settings
        if delivery.attempts >= s.webhook_max_attempts:
            return DeliveryStatus.FAILED, None
        return DeliveryStatus.PENDING, now + backoff(delivery.attempts, s.webhook_backoff, s.webhook_backoff_max)

    def _count(self, repo: WebhookRepository, pairs: Pairs, now: datetime, clean: Collection[str] = ()) -> None:
        """Each webhook's failed attempts in a row: a success starts the count again (no statement for the
        webhooks of ``clean``, known to have none), each failure adds one, and the ``disable_after``-th
        disables the webhook (failing its pending deliveries)."""
        for webhook_id in {webhook.id for (_, webhook), attempt in pairs if attempt.ok} - set(clean):
            repo.succeeded(webhook_id)
        for (_, webhook), attempt in pairs:
            if not attempt.ok and repo.failed(webhook.id, now, self.settings.webhook_disable_after):
                log.warning("webhook %s disabled: %d failed attempts in a row", webhook.id,
                            self.settings.webhook_disable_after)  # fmt: skip

    def _record(self, session: Any, pairs: Pairs) -> None:
        """Each attempt's outcome, in the transaction that ends the dispatch: the successes in one statement
        per status code, the failures one by one (each webhook's failures counted, and maybe disabling it)."""
        repo = WebhookRepository(session)
        now = utcnow()
        succeeded: dict[int | None, list[str]] = {}
        for (delivery, _), attempt in pairs:
            if attempt.ok:
                succeeded.setdefault(attempt.status_code, []).append(delivery.id)
        for status_code, ids in succeeded.items():
            repo.record_many(ids, now, status=DeliveryStatus.SUCCEEDED, status_code=status_code)
        for (delivery, _), attempt in pairs:
            if not attempt.ok:
                status, next_attempt_at = self._after(delivery, attempt, now)
                repo.record(delivery.id, now, status=status, next_attempt_at=next_attempt_at,
                            status_code=attempt.status_code, error=attempt.error)  # fmt: skip
        self._count(repo, pairs, now)
