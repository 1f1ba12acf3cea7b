"""The transactional outbox: a message about a change is recorded in the transaction of the change, and a
task-queue runner delivers it to the sinks after that transaction committed.

``Outbox.record(session, topic, payload)`` is called inside a unit of work: the message exists exactly when
the change does (a rolled-back change leaves no message, a committed one always has its message). The same
transaction enqueues an ``outbox_drain`` task unless one is already waiting, so the worker delivers soon
after commit. ``OutboxDrain`` (the runner) reads the undelivered messages in order, hands each to every sink,
and removes them, delivered, in the transaction that ends its task (the table holds only what waits); when a
sink fails, the messages before it are removed and the rest stay undelivered until the worker's ``redrive``
sweep starts the next drain (delivery is at least once, in order). ``LoggingSink`` logs each message;
the notifications work adds its own sinks. A ``Fanout`` (webhooks) reads what it needs with the messages,
does its sending once the sinks took them, and records what came of it in the transaction that removes them,
for the messages that transaction removed: each message's fan-out is recorded exactly once (a
drain that dies before that transaction leaves its messages to the next drain, which sends them again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from glimpse.db import after_commit
from glimpse.db.repositories.outbox import OutboxRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.images import new_id
from glimpse.domain.outbox import OutboxMessage
from glimpse.domain.tasks import Task, TaskType
from glimpse.services.task_queue import Outcome, Progress, Step, TaskQueue, internal_task

log = logging.getLogger(__name__)

BATCH = 500  # messages delivered by one drain task; a fuller outbox gets another drain
LINGER = 0.25  # seconds a drain waits before reading, so that a burst of changes is one drain
MAX_LINGER = 1.0  # ... at most, while changes keep coming (see Outbox.run)
BUSY = 10  # a drain that found this many messages or more lingers twice as long next time
_KICK = "glimpse.outbox.kick"  # a session's flag: its commit hook is registered


class Sink(Protocol):
    async def deliver(self, message: OutboxMessage) -> None: ...


Record = Callable[[Any, Collection[str]], None]
"""What a fan-out records in the transaction that removes its messages, delivered: ``(session, ids of the
messages that transaction removed)`` (a message another drain removed first is that drain's to record)."""


class Fanout(Protocol):
    """A consumer that turns delivered messages into more work (webhook deliveries): ``prepare`` runs in the
    drain's reading transaction (what the messages need, e.g. who wants them); ``fan_out`` gets the messages
    every sink took, does its sending, and returns what to record (None: nothing)."""

    def prepare(self, session: Any, messages: Sequence[OutboxMessage]) -> Any: ...

    async def fan_out(self, known: Any, messages: Sequence[OutboxMessage]) -> Record | None: ...


async def _deliver(sink: Sink, messages: Sequence[OutboxMessage]) -> tuple[int, str | None]:
    """How many of ``messages`` (in order) ``sink`` took, and why it stopped; a sink with
    ``deliver_batch(messages) -> (taken, error)`` gets them all in one call."""
    batch = getattr(sink, "deliver_batch", None)
    if batch is not None:
        taken: tuple[int, str | None] = await batch(messages)
        return taken
    for done, message in enumerate(messages):
        try:
            await sink.deliver(message)
        except Exception as exc:
            return done, f"{type(exc).__name__}: {exc}"
    return len(messages), None


class LoggingSink:
    """Logs every message (``glimpse.outbox`` logger, INFO)."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.log = logger or log

    async def deliver(self, message: OutboxMessage) -> None:
        self.log.info("outbox %s %s %s", message.topic, message.id, message.payload)


class Outbox:
    """Records messages in the caller's transaction and drains them (the ``outbox_drain`` runner)."""

    def __init__(self, queue: TaskQueue, sinks: Sequence[Sink], fanouts: Sequence[Fanout] = ()) -> None:
        self.queue = queue
        self.db = queue.db
        self.sinks = list(sinks)
        self.fanouts = list(fanouts)
        self._last = datetime.min
        self._dirty = False  # a message committed since the last kick
        self.linger = LINGER  # how long the next drain of this process waits before reading

    def record(self, session: Any, topic: str, payload: dict[str, Any]) -> OutboxMessage:
        """Add a message to the outbox inside the caller's transaction: one INSERT. Once it committed, the
        next :meth:`kick` makes sure a drain waits for it."""
        # messages are delivered in created_at order: never two alike from this process, never going back
        now = max(utcnow(), self._last + timedelta(microseconds=1))
        self._last = now
        message = OutboxMessage(id=new_id(), topic=topic, created_at=now, payload=dict(payload))
        OutboxRepository(session).add(message)
        if not session.info.get(_KICK):
            session.info[_KICK] = True
            after_commit(session, self._committed)
        return message

    def _committed(self) -> None:
        self._dirty = True

    async def kick(self) -> None:
        """A drain for the messages committed since the last kick, unless one is waiting: one query per burst
        of changes rather than one per change (the request path only inserts its message)."""
        if not self._dirty:
            return
        self._dirty = False
        try:
            await self.db.run(_ensure_drain(self.queue))
        except Exception:
            self._dirty = True  # the next kick tries again (and the worker's redrive sweeps anyway)
            raise

    async def kicking(self, stop: asyncio.Event) -> None:
        """Kick every LINGER seconds while messages are committed, until ``stop`` (then once more)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), LINGER)
            try:
                await self.kick()
            except Exception as exc:
                log.warning("outbox: could not start a drain (%s); retrying", exc)
        with contextlib.suppress(Exception):
            await self.kick()

    # -- the runner -----------------------------------------------------------------------------------
    async def run(self, task: Task, progress: Progress) -> Outcome:
        # a moment for the changes committing right now: one drain then carries many messages, not one each.
        # While changes keep coming the moment grows (twice as long after each busy drain, up to MAX_LINGER),
        # so batches grow with the load: a drain's claim, reads and ending transaction are paid per batch,
        # about half of the events' CPU at 25 messages a batch. A quiet outbox is drained after LINGER.
        await asyncio.sleep(self.linger)
        fanouts = self.fanouts

        def read(session: Any) -> tuple[list[OutboxMessage], list[Any]]:
            messages = OutboxRepository(session).undelivered(BATCH)
            return messages, [fanout.prepare(session, messages) for fanout in fanouts]

        messages, known = await self.db.run(read)
        if len(messages) >= BUSY and len(messages) < BATCH:
            self.linger = min(MAX_LINGER, self.linger * 2)
        else:  # quiet, or a backlog (the next drain is enqueued at once and has a full batch anyway)
            self.linger = LINGER
        count, error = len(messages), None
        for sink in self.sinks:  # a message is delivered once every sink took it
            taken, failed = await _deliver(sink, messages[:count])
            if failed is not None:
                count, error = taken, failed
        delivered = messages[:count]
        if error is not None:  # the rest waits for the worker's next redrive (outbox_retry_interval)
            log.warning("outbox: %d of %d messages delivered: %s; retrying later", count, len(messages), error)
        # the fan-outs send before the ending transaction, which records what they got as it removes the messages: one
        # transaction less per drain than sending after it (a drain that dies first leaves the messages
        # undelivered, and the next drain sends them again, as the same deliveries)
        records = []
        for fanout, what in zip(fanouts, known, strict=True):
            record = await fanout.fan_out(what, delivered) if delivered else None
            if record is not None:
                records.append(record)
        progress(count, len(messages))
        ids = [message.id for message in delivered]
        more = len(messages) == BATCH and error is None

        def finish(session: Any) -> None:
            removed = OutboxRepository(session).remove_delivered(ids)
            for record in records:
                record(session, removed)
            if more:  # the rest goes to the next drain
                self.queue.enqueue(session, _drain_task())

        result: dict[str, Any] = {"delivered": len(ids)}
        if error is not None:
            result["error"] = error
        return Outcome(result=result, finish=finish)

    async def redrive(self) -> None:
        """The worker's sweep: a drain for messages left undelivered (a sink failed, a drain died, or the
        process that recorded them stopped before its kick)."""
        await self.db.run(_ensure_drain(self.queue, only_if_undelivered=True))

    async def undo(self, task: Task, reason: str) -> Step | None:
        log.warning("outbox drain failed: %s; the messages stay for the next drain", reason)
        return _ensure_drain(self.queue, only_if_undelivered=True)  # undelivered messages always have a drain

    def on_progress(self, task: Task, done: int, total: int | None, session: Any) -> None:
        pass


def _drain_task() -> Task:
    return internal_task(TaskType.OUTBOX_DRAIN)


def _ensure_drain(queue: TaskQueue, *, only_if_undelivered: bool = False) -> Step:
    """The step that enqueues a drain unless one is waiting (and, if asked, only when a message waits)."""

    def step(session: Any) -> None:
        repo = OutboxRepository(session)
        if only_if_undelivered and not repo.undelivered(1):
            return
        if not repo.drain_pending():
            queue.enqueue(session, _drain_task())

    return step
