"""The task queue: durable background work, claimed by workers, ended in one transaction.

A task is a row in ``tasks``. :meth:`TaskQueue.enqueue` adds it inside the caller's transaction (so the
task exists exactly when the change that asked for it does) and wakes the in-process worker after commit.
A worker :meth:`~TaskQueue.claim`\\ s the oldest pending task, keeps it with :meth:`~TaskQueue.heartbeat`
while its runner works, and ends it with :meth:`~TaskQueue.complete` or :meth:`~TaskQueue.fail`.
:meth:`~TaskQueue.reap` retries or fails the tasks of workers that stopped beating.

The end of a task is ONE transaction: the task's status, result and message change together with what
the runner changes in its own tables (an image's status, locations and properties), and only while the
worker still holds the task (``claimed_by``, its fencing token). No client can ever see an image made
active by a task that is still ``processing``, nor a finished task whose image was not finished.

A runner (:class:`Runner`) does the slow part of the work outside any transaction and hands back an
:class:`Outcome`: the result, the step (``session -> None``) that finishes its side in the ending
transaction, what to do once that committed, and what to clean up if the step is refused. Its undo after a
failure is a step in the failing transaction the same way. Which runner runs which task type is a mapping
the worker is given (``jobs/worker.py``); a type without a runner fails cleanly, saying so.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, runtime_checkable

from glimpse.db import Database, after_commit
from glimpse.db.repositories.tasks import TaskRepository, claimed_by
from glimpse.domain.clock import utcnow
from glimpse.domain.tasks import Task, TaskStatus, TaskType
from glimpse.errors import GlimpseError

log = logging.getLogger(__name__)

TASK_TTL = timedelta(hours=48)  # how long a finished task stays listed (Glance's task_time_to_live)

Step = Callable[[Any], None]
"""A change made inside the transaction that ends a task: called with the database session."""
Progress = Callable[[int, int | None], None]
"""``progress(done, total)``: what a runner reports as it goes; recorded at the next heartbeat."""


def internal_task(task_type: TaskType) -> Task:
    """A new pending task of one of Glimpse's own housekeeping types (no owner, no image, no input)."""
    now = utcnow()
    return Task(
        id=str(uuid.uuid4()), type=task_type, status=TaskStatus.PENDING, owner=None, created_at=now,
        updated_at=now, expires_at=now + TASK_TTL,
    )  # fmt: skip


class TaskLost(GlimpseError):
    """The worker no longer holds the task: it was reaped and another worker runs it now."""

    status = 409


@dataclass(slots=True)
class Outcome:
    """What a finished run hands back to the queue.

    ``finish`` runs in the transaction that marks the task ``success`` (raising there refuses the outcome:
    nothing of that transaction is kept and the task fails with the error's message); ``after`` runs once
    that transaction committed; ``abort`` runs when ``finish`` raised, to remove what the run made that
    nothing references; ``abandon`` runs when the task was no longer this worker's to end (it was reaped
    and another attempt runs or ran it), to remove what this attempt alone made.
    """

    result: dict[str, Any]
    finish: Step | None = None
    after: Callable[[], Awaitable[None]] | None = None
    abort: Callable[[], Awaitable[None]] | None = None
    abandon: Callable[[], Awaitable[None]] | None = None


class Runner(Protocol):
    """What runs one type of task."""

    async def run(self, task: Task, progress: Progress) -> Outcome:
        """Do the work; the returned outcome is applied when the task ends."""
        ...

    async def undo(self, task: Task, reason: str) -> Step | None:
        """Prepare the undo of a run that will not complete (may do I/O); the returned step runs in the
        transaction that marks the task ``failure``, only while the failing worker still holds it."""
        ...

    def on_progress(self, task: Task, done: int, total: int | None, session: Any) -> None:
        """Show progress beyond the task row (in the heartbeat's transaction)."""
        ...


@runtime_checkable
class Holding(Protocol):
    """A runner that holds something for as long as a worker has one of its tasks in hand."""

    def holding(self, task: Task) -> AbstractAsyncContextManager[None]:
        """Entered before the run starts, left once the task's ending transaction committed (or the run was
        abandoned): what a run wrote stays unrecorded until that transaction, so whatever tells other
        processes that it is still being written must last until then (an import's writer lock)."""
        ...


class Unsupported:
    """The runner of a task type the worker was given no runner for: the task fails, saying so."""

    def __init__(self, task_type: TaskType) -> None:
        self.task_type = task_type

    async def run(self, task: Task, progress: Progress) -> Outcome:
        raise TaskTypeUnsupported(f"This worker has no runner for {self.task_type.value} tasks")

    async def undo(self, task: Task, reason: str) -> Step | None:
        return None

    def on_progress(self, task: Task, done: int, total: int | None, session: Any) -> None:
        pass


class TaskTypeUnsupported(GlimpseError):
    status = 400


def describe_failure(exc: BaseException) -> str:
    """The message a failed task shows: a domain error's own message, else the exception's type and text."""
    if isinstance(exc, GlimpseError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


class TaskQueue:
    """Enqueue, claim, heartbeat, complete, fail, reap: every change of a task's state goes through here."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.wakeup = asyncio.Event()  # set after a task is committed, so an idle in-process worker looks now

    # -- producers ------------------------------------------------------------------------------------
    def enqueue(self, session: Any, task: Task, *, wake: bool = True) -> None:
        """Add ``task`` in the caller's transaction; the in-process worker is woken once it committed (or,
        with ``wake=False``, finds it at its next poll)."""
        TaskRepository(session).add(task)
        if wake:
            after_commit(session, self.wakeup.set)

    # -- workers --------------------------------------------------------------------------------------
    async def claim(
        self, worker: str, types: frozenset[TaskType] | None = None, node: str | None = None
    ) -> Task | None:
        """The oldest pending task (of ``types`` when given; bound to no node or to ``node``), now
        ``processing`` and owned by ``worker``."""
        return await self.db.run(lambda s: TaskRepository(s).claim(worker, utcnow(), types, node))

    async def heartbeat(
        self, task: Task, worker: str, done: int, total: int | None, show: Callable[[Any], None] | None = None
    ) -> bool:
        """Record that ``worker`` is alive and how far it got (and ``show`` it, in the same transaction);
        False when the worker no longer owns the task."""

        def work(session: Any) -> bool:
            if not TaskRepository(session).heartbeat(task.id, worker, utcnow(), done, total):
                return False
            if show is not None:
                show(session)
            return True

        return await self.db.run(work)

    async def complete(self, task: Task, worker: str, outcome: Outcome, bytes_done: int | None = None) -> bool:
        """End ``task`` as ``success`` with ``outcome`` in one transaction; False when ``worker`` lost it.
        ``bytes_done``: how much the run copied in all (what Glance's ``Copied N MiB`` message reports).

        Whatever ``outcome.finish`` raises propagates, and nothing of the transaction is kept.
        """

        def work(session: Any) -> bool:
            now = utcnow()
            ended = TaskRepository(session).finish(
                task.id, worker, TaskStatus.SUCCESS, result=outcome.result, message="", now=now,
                expires_at=now + TASK_TTL, bytes_done=bytes_done,
            )  # fmt: skip
            if not ended:
                return False
            if outcome.finish is not None:
                outcome.finish(session)
            return True

        return await self.db.run(work)

    async def fail(self, task: Task, worker: str | None, message: str, undo: Step | None) -> bool:
        """End ``task`` as ``failure`` and run ``undo`` in the same transaction, only while ``worker`` still
        holds it (None: whoever holds it); False when it was no longer that worker's to fail."""

        def work(session: Any) -> bool:
            now = utcnow()
            ended = TaskRepository(session).finish(
                task.id, worker, TaskStatus.FAILURE, result=None, message=message, now=now,
                expires_at=now + TASK_TTL,
            )  # fmt: skip
            if ended and undo is not None:
                undo(session)
            return ended

        return await self.db.run(work)

    async def stale(self, stale_after: float) -> list[Task]:
        """Processing tasks whose worker has not beaten for ``stale_after`` seconds."""
        cutoff = utcnow() - timedelta(seconds=stale_after)
        return await self.db.run(lambda s: TaskRepository(s).stale(cutoff))

    async def holder(self, task_id: str) -> str | None:
        return await self.db.run(lambda s: claimed_by(s, task_id))

    async def release(self, task: Task, stale_worker: str | None) -> bool:
        """Put a stale task back to ``pending`` for another attempt (if ``stale_worker`` still holds it)."""
        released = await self.db.run(lambda s: TaskRepository(s).release(task.id, stale_worker, utcnow()))
        if released:
            self.wakeup.set()
        return released

    async def reap(
        self, runners: Mapping[TaskType, Runner], *, stale_after: float, max_attempts: int
    ) -> list[tuple[Task, str]]:
        """Retry (up to ``max_attempts``) or fail the tasks of workers that stopped beating; what was done."""
        done: list[tuple[Task, str]] = []
        # Each task's retry or failure (with the runner's undo) is one transaction: a database error part-way
        # leaves the task stale, and the next pass takes it up again (it used to be able to leave a failed
        # task whose image was never put back).
        for task in await self.stale(stale_after):
            stale_worker = await self.holder(task.id)
            if task.attempts < max_attempts:
                if await self.release(task, stale_worker):
                    log.warning(
                        "task %s: worker %s stopped; retrying (attempt %d of %d)",
                        task.id, stale_worker, task.attempts + 1, max_attempts,
                    )  # fmt: skip
                    done.append((task, "retried"))
                continue
            message = f"The worker running this task stopped responding {task.attempts} times; giving up."
            runner = runners.get(task.type) or Unsupported(task.type)
            undo = await runner.undo(task, message)
            if await self.fail(task, stale_worker, message, undo):
                log.warning("task %s: %s", task.id, message)
                done.append((task, "failed"))
        return done
