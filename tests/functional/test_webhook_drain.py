"""The outbox drain's webhook first attempts, made before the drain's ending transaction and recorded in it:
a drain that dies before that transaction leaves its events to the next drain, which sends them again as the
same deliveries (the same ``webhook-id``); two drains that sent the same events record them once; a webhook
deleted or disabled while a drain was sending gets no delivery, or no retry. The services with a real HTTP
receiver on 127.0.0.1, the task queue driven step by step as a worker drives it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from glimpse.container import Services, build_services
from glimpse.context import RequestContext
from glimpse.db.models import OutboxRow, WebhookDeliveryRow, WebhookRow
from glimpse.domain.tasks import Task
from glimpse.domain.webhooks import verify
from glimpse.jobs.worker import Worker
from glimpse.services.task_queue import Outcome
from tests.functional.test_webhooks import Receiver, hook_settings
from tests.webserver import serving

ALICE = RequestContext(user_id="alice", project_id="alpha", roles=frozenset({"member", "reader"}))


@pytest.fixture
def hooked(tmp_path: Path, clean_db: str) -> Iterator[Services]:
    services = build_services(hook_settings(tmp_path, clean_db))
    try:
        yield services
    finally:
        services.close()


def rows(services: Services) -> list[Any]:
    """Every delivery row: (id, status, attempts, last_status_code, body)."""
    stmt = select(WebhookDeliveryRow.id, WebhookDeliveryRow.status, WebhookDeliveryRow.attempts,
                  WebhookDeliveryRow.last_status_code, WebhookDeliveryRow.body)  # fmt: skip
    return services.db.run_sync(lambda s: [tuple(row) for row in s.execute(stmt)])


def undelivered(services: Services) -> int:
    stmt = select(OutboxRow.id).where(OutboxRow.delivered_at.is_(None))
    return len(services.db.run_sync(lambda s: list(s.scalars(stmt))))


def failures(services: Services, webhook_id: str) -> int:
    stmt = select(WebhookRow.failures).where(WebhookRow.id == webhook_id)
    found = services.db.run_sync(lambda s: s.scalar(stmt))
    assert found is not None
    return found


async def drain(services: Services, worker: str) -> tuple[Task, Outcome]:
    """A drain claimed by ``worker`` and run up to its ending transaction (not made: the worker may die)."""
    task = await services.queue.claim(worker)
    assert task is not None
    return task, await services.outbox.run(task, lambda done, total: None)


async def setup(services: Services, url: str) -> tuple[str, str]:
    """A webhook of alpha's for image.create at ``url`` and one image created: (webhook id, its secret)."""
    hook, secret = await services.webhooks.create(ALICE, {"url": f"{url}/hook", "events": ["image.create"]})
    await services.images.create(ALICE, {"name": "hooked", "disk_format": "raw", "container_format": "bare"})
    await services.outbox.kick()
    return hook.id, secret


def test_a_drain_that_dies_before_its_end_leaves_the_event_to_the_next_as_the_same_delivery(
    hooked: Services,
) -> None:
    got = Receiver()
    with serving(got.handler()) as url:

        async def scenario() -> tuple[str, str]:
            hook_id, secret = await setup(hooked, url)
            task, _ = await drain(hooked, "dies")  # sent; the worker dies before the ending transaction
            assert len(got.got) == 1
            assert (rows(hooked), undelivered(hooked)) == ([], 1)  # nothing recorded, the event still waits
            assert await hooked.queue.release(task, "dies")  # what the reaper does once it stopped beating
            assert await Worker.from_services(hooked).run_one()
            return hook_id, secret

        hook_id, secret = asyncio.run(scenario())
    first, again = got.got
    assert first[1]["webhook-id"] == again[1]["webhook-id"]  # the receiver drops the duplicate by it
    assert first[2] == again[2]
    assert all(verify(secret, headers, body) for _, headers, body in got.got)
    [(delivery, status, attempts, code, body)] = rows(hooked)
    assert delivery == first[1]["webhook-id"]
    assert (status, attempts, code, body) == ("succeeded", 1, 204, "")  # a success keeps no body
    assert undelivered(hooked) == 0
    assert failures(hooked, hook_id) == 0


@pytest.mark.parametrize("answer", [204, 500])
def test_two_drains_that_sent_the_same_event_record_it_once(hooked: Services, answer: int) -> None:
    got = Receiver(status=answer)
    with serving(got.handler()) as url:

        async def scenario() -> str:
            hook_id, _ = await setup(hooked, url)
            one = await drain(hooked, "one")
            await hooked.outbox.redrive()  # a second drain while the first has not ended: the same event
            two = await drain(hooked, "two")
            assert await hooked.queue.complete(one[0], "one", one[1])
            assert await hooked.queue.complete(two[0], "two", two[1])
            return hook_id

        hook_id = asyncio.run(scenario())
    assert len(got.got) == 2
    assert got.got[0][1]["webhook-id"] == got.got[1][1]["webhook-id"]
    [(delivery, status, attempts, code, body)] = rows(hooked)
    assert delivery == got.got[0][1]["webhook-id"]
    assert (status, attempts, code) == (("succeeded", 1, 204) if answer == 204 else ("pending", 1, 500))
    assert (body == "") is (answer == 204)  # a delivery to retry keeps what it sends again
    assert failures(hooked, hook_id) == (0 if answer == 204 else 1)  # counted once


def test_a_webhook_deleted_while_a_drain_sent_gets_no_delivery(hooked: Services) -> None:
    got = Receiver()
    with serving(got.handler()) as url:

        async def scenario() -> None:
            hook_id, _ = await setup(hooked, url)
            task, outcome = await drain(hooked, "w")
            await hooked.webhooks.delete(ALICE, hook_id)
            assert await hooked.queue.complete(task, "w", outcome)

        asyncio.run(scenario())
    assert len(got.got) == 1
    assert (rows(hooked), undelivered(hooked)) == ([], 0)


def test_a_webhook_disabled_while_a_drain_sent_gets_no_retry(hooked: Services) -> None:
    got = Receiver(status=503)
    with serving(got.handler()) as url:

        async def scenario() -> str:
            hook_id, _ = await setup(hooked, url)
            task, outcome = await drain(hooked, "w")
            await hooked.webhooks.update(ALICE, hook_id, {"status": "disabled"})
            assert await hooked.queue.complete(task, "w", outcome)
            return hook_id

        hook_id = asyncio.run(scenario())
    [(_, status, attempts, code, _)] = rows(hooked)
    assert (status, attempts, code) == ("failed", 1, 503)
    assert failures(hooked, hook_id) == 0  # a disabled webhook's count does not grow
