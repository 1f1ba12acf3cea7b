"""glimpse.services.outbox on a real database: a message exists exactly when the change recorded with it
committed, one drain task waits however many messages are recorded, the worker delivers them in order to the
sinks after commit and removes them, a failing sink leaves them for the next drain (the worker's redrive), and
drain tasks never appear in the tasks API."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from glimpse.container import Services
from glimpse.context import RequestContext
from glimpse.db.models import OutboxRow, TaskRow
from glimpse.db.repositories.outbox import OutboxRepository
from glimpse.domain.outbox import OutboxMessage
from glimpse.domain.tasks import TaskStatus, TaskType
from glimpse.errors import Conflict, NotFound
from glimpse.jobs.worker import Worker, default_runners
from glimpse.services import outbox as outbox_module
from glimpse.services.outbox import BUSY, LINGER, MAX_LINGER, Outbox

ADMIN = RequestContext(user_id="admin", project_id="admin", roles=frozenset({"admin", "member", "reader"}))


def _drains(services: Services) -> list[Any]:
    return services.db.run_sync(
        lambda s: [(r.id, r.status) for r in s.query(TaskRow).filter_by(type=TaskType.OUTBOX_DRAIN.value)]
    )


def _messages(services: Services) -> list[tuple[str, bool]]:
    rows = services.db.run_sync(lambda s: s.query(OutboxRow).order_by(OutboxRow.created_at, OutboxRow.id).all())
    return [(row.topic, row.delivered_at is not None) for row in rows]


def test_a_message_exists_only_if_its_change_committed(services: Services) -> None:
    def rolled_back(session: Any) -> None:
        services.outbox.record(session, "image.update", {"id": "x"})
        raise Conflict("the change was refused")

    with pytest.raises(Conflict):
        services.db.run_sync(rolled_back)
    assert (_messages(services), _drains(services)) == ([], [])

    services.db.run_sync(lambda s: services.outbox.record(s, "image.create", {"id": "a"}))
    services.db.run_sync(lambda s: services.outbox.record(s, "image.delete", {"id": "a"}))
    assert _messages(services) == [("image.create", False), ("image.delete", False)]
    assert _drains(services) == []  # the request path only inserts its message...
    asyncio.run(services.outbox.kick())  # ...and the process's kick, after commit, starts a drain
    asyncio.run(services.outbox.kick())
    assert [status for _, status in _drains(services)] == ["pending"]  # one drain for both


def test_a_kick_after_a_rollback_starts_no_drain(services: Services) -> None:
    def rolled_back(session: Any) -> None:
        services.outbox.record(session, "image.update", {"id": "x"})
        raise Conflict("the change was refused")

    with pytest.raises(Conflict):
        services.db.run_sync(rolled_back)
    asyncio.run(services.outbox.kick())
    assert _drains(services) == []


def test_messages_left_by_a_process_that_never_kicked_are_redriven(services: Services) -> None:
    other = Outbox(services.queue, [])  # another process: recorded, then stopped before its kick
    services.db.run_sync(lambda s: other.record(s, "image.update", {"id": "y"}))
    assert _drains(services) == []
    asyncio.run(services.outbox.redrive())
    assert [status for _, status in _drains(services)] == ["pending"]


def test_the_worker_delivers_in_order_and_removes_them(services: Services, caplog: pytest.LogCaptureFixture) -> None:
    for n in range(3):
        services.db.run_sync(lambda s, n=n: services.outbox.record(s, "image.update", {"n": n}))
    asyncio.run(services.outbox.kick())
    caplog.set_level(logging.INFO, logger="glimpse.services.outbox")
    worker = Worker(services.queue, default_runners(services))
    assert asyncio.run(worker.run_one())
    assert _messages(services) == []  # delivered: gone (the table holds only what waits)
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("outbox image.update")]
    assert [line.rsplit(" ", 1)[-1] for line in logged] == ["0}", "1}", "2}"]
    [(drain_id, status)] = _drains(services)
    assert status == TaskStatus.SUCCESS.value
    assert not asyncio.run(worker.run_one())  # nothing more to do

    # internal: the tasks API shows no drain, to anyone
    tasks, _ = asyncio.run(services.tasks.search(ADMIN, []))
    assert tasks == []
    with pytest.raises(NotFound):
        asyncio.run(services.tasks.get(ADMIN, drain_id))


class _Broken:
    def __init__(self) -> None:
        self.seen: list[OutboxMessage] = []

    async def deliver(self, message: OutboxMessage) -> None:
        self.seen.append(message)
        raise ConnectionError("the sink is down")


def test_a_failing_sink_leaves_the_messages_for_the_next_drain(services: Services) -> None:
    broken = _Broken()
    outbox = Outbox(services.queue, [broken])
    services.db.run_sync(lambda s: outbox.record(s, "image.update", {"id": "b"}))
    asyncio.run(outbox.kick())
    worker = Worker(services.queue, {TaskType.OUTBOX_DRAIN: outbox})
    assert asyncio.run(worker.run_one())
    assert [m.topic for m in broken.seen] == ["image.update"]
    assert _messages(services) == [("image.update", False)]
    # the drain ends (saying why) and the message waits for the worker's redrive, which starts a new drain
    assert sorted(status for _, status in _drains(services)) == ["success"]
    asyncio.run(outbox.redrive())
    asyncio.run(outbox.redrive())  # one drain waiting is enough
    assert sorted(status for _, status in _drains(services)) == ["pending", "success"]
    undelivered = services.db.run_sync(lambda s: OutboxRepository(s).undelivered(10))
    assert [m.payload for m in undelivered] == [{"id": "b"}]


def test_the_linger_grows_while_drains_are_busy_and_comes_back_when_quiet(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_module, "BATCH", 30)  # a full batch: a backlog
    outbox = services.outbox
    worker = Worker(services.queue, default_runners(services))

    def drain(messages: int) -> float:
        for n in range(messages):
            services.db.run_sync(lambda s, n=n: outbox.record(s, "image.update", {"n": n}))
        asyncio.run(outbox.kick())
        assert asyncio.run(worker.run_one())
        return outbox.linger

    assert outbox.linger == LINGER
    assert [drain(BUSY), drain(BUSY), drain(BUSY), drain(BUSY)] == [2 * LINGER, 4 * LINGER, MAX_LINGER, MAX_LINGER]
    assert drain(BUSY - 1) == LINGER  # quiet again: drained promptly
    assert drain(BUSY) == 2 * LINGER
    assert drain(30) == LINGER  # a backlog: the next drain is at once anyway
    assert _messages(services) == []
