"""The transactional outbox: a message about a change is recorded in the transaction of the change, and a
task-queue runner delivers it to the sinks after that transaction committed.

``Outbox.record(session, topic, payload)`` is called inside a unit of work: the message exists exactly when
the change does (a rolled-back change leaves no message, a committed one always has its message). The same
transaction enqueues an ``outbox_drain`` task unless one is already waiting, so the worker delivers soon
after commit. ``OutboxDrain`` (the runner) reads the undelivered messages in order, hands each to every sink,
and marks them delivered in the transaction that ends its task; a sink that fails fails the task, and the
messages stay undelivered for the next drain (delivery is at least once). ``LoggingSink`` logs each message;
the notifications work adds its own sinks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from glimpse.db.repositories.outbox import OutboxRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.images import new_id
from glimpse.domain.outbox import OutboxMessage
from glimpse.domain.tasks import Task, TaskStatus, TaskType
from glimpse.services.task_queue import TASK_TTL, Outcome, Progress, Step, TaskQueue

log = logging.getLogger(__name__)

BATCH = 500  # messages delivered by one drain task; a fuller outbox gets another drain


class Sink(Protocol):
    async def deliver(self, message: OutboxMessage) -> None: ...


class LoggingSink:
    """Logs every message (``glimpse.outbox`` logger, INFO)."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.log = logger or log

    async def deliver(self, message: OutboxMessage) -> None:
        self.log.info("outbox %s %s %s", message.topic, message.id, message.payload)


class Outbox:
    """Records messages in the caller's transaction and drains them (the ``outbox_drain`` runner)."""

    def __init__(self, queue: TaskQueue, sinks: Sequence[Sink]) -> None:
        self.queue = queue
        self.db = queue.db
        self.sinks = list(sinks)

    def record(self, session: Any, topic: str, payload: dict[str, Any]) -> OutboxMessage:
        """Add a message to the outbox inside the caller's transaction (and a drain task if none waits)."""
        now = utcnow()
        message = OutboxMessage(id=new_id(), topic=topic, created_at=now, payload=dict(payload))
        repo = OutboxRepository(session)
        repo.add(message)
        if not repo.drain_pending():
            self.queue.enqueue(session, _drain_task())
        return message

    # -- the runner -----------------------------------------------------------------------------------
    async def run(self, task: Task, progress: Progress) -> Outcome:
        messages = await self.db.run(lambda s: OutboxRepository(s).undelivered(BATCH))
        for done, message in enumerate(messages, start=1):
            for sink in self.sinks:
                await sink.deliver(message)
            progress(done, len(messages))
        ids = [message.id for message in messages]
        more = len(messages) == BATCH

        def finish(session: Any) -> None:
            OutboxRepository(session).mark_delivered(ids, utcnow())
            if more:  # the rest goes to the next drain
                self.queue.enqueue(session, _drain_task())

        return Outcome(result={"delivered": len(ids)}, finish=finish)

    async def undo(self, task: Task, reason: str) -> Step | None:
        log.warning("outbox drain failed: %s; the messages stay for the next drain", reason)

        def retry(session: Any) -> None:  # undelivered messages always have a drain waiting
            if OutboxRepository(session).undelivered(1) and not OutboxRepository(session).drain_pending():
                self.queue.enqueue(session, _drain_task())

        return retry

    def on_progress(self, task: Task, done: int, total: int | None, session: Any) -> None:
        pass


def _drain_task() -> Task:
    now = utcnow()
    return Task(
        id=new_id(), type=TaskType.OUTBOX_DRAIN, status=TaskStatus.PENDING, owner=None, created_at=now,
        updated_at=now, expires_at=now + TASK_TTL,
    )  # fmt: skip
