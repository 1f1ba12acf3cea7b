"""The task worker: claims pending tasks, runs them with a heartbeat, and reaps tasks of dead workers.

Runs in-process (started by the app) or as `glimpse worker` processes; any number may run against one
database. A task belongs to the worker that claimed it while that worker's heartbeat is fresh. A worker
killed mid-task stops beating: another worker (or this one after a restart) puts the task back to pending
for a retry, or fails it cleanly after ``max_attempts``, undoing the image's import state either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol

from glimpse.container import Services
from glimpse.db import Database
from glimpse.db.repositories.tasks import TaskRepository, claimed_by
from glimpse.domain.clock import utcnow
from glimpse.domain.tasks import Task, TaskStatus, TaskType
from glimpse.errors import DatabaseUnavailable
from glimpse.services.image_import import TASK_TTL, ImportService, describe_failure

log = logging.getLogger(__name__)


class TaskRunner(Protocol):
    """What runs one type of task: the run itself, its undo after a failure, and the progress it shows."""

    async def run(self, task: Task, progress: Callable[[int, int | None], None]) -> dict[str, Any]: ...

    async def fail(self, task: Task, reason: str) -> None: ...

    async def record_progress(self, task: Task, done: int, total: int | None) -> None: ...


class _Unsupported:
    """The runner of a task type this worker was not given: the task fails, saying so."""

    def __init__(self, task_type: TaskType) -> None:
        self.task_type = task_type

    async def run(self, task: Task, progress: Callable[[int, int | None], None]) -> dict[str, Any]:
        raise RuntimeError(f"this worker cannot run {self.task_type.value} tasks")

    async def fail(self, task: Task, reason: str) -> None:
        pass

    async def record_progress(self, task: Task, done: int, total: int | None) -> None:
        pass


class Worker:
    def __init__(
        self,
        db: Database,
        imports: ImportService,
        *,
        locations: TaskRunner | None = None,
        heartbeat_interval: float = 2.0,
        stale_after: float = 30.0,
        poll_interval: float = 2.0,
        max_attempts: int = 2,
        sweep_interval: float = 300.0,
    ) -> None:
        self.db = db
        self.imports = imports
        self.locations = locations
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.heartbeat_interval = heartbeat_interval
        self.stale_after = stale_after
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self.sweep_interval = sweep_interval

    @classmethod
    def from_services(cls, services: Services) -> Worker:
        s = services.settings
        return cls(
            services.db,
            services.imports,
            locations=services.locations,
            heartbeat_interval=s.task_heartbeat_interval,
            stale_after=s.task_stale_after,
            poll_interval=s.task_heartbeat_interval,
            max_attempts=s.task_max_attempts,
        )

    async def run_forever(self, stop: asyncio.Event) -> None:
        log.info("task worker %s started", self.id)
        next_sweep = 0.0
        while not stop.is_set():
            try:
                if time.monotonic() >= next_sweep:
                    await self.imports.sweep_staging()
                    next_sweep = time.monotonic() + self.sweep_interval
                await self.reap()
                while not stop.is_set() and await self.run_one():
                    pass
            except DatabaseUnavailable as exc:
                log.warning("task worker %s: %s; retrying in %.0f s", self.id, exc.message, self.poll_interval)
            except Exception:
                log.exception("task worker %s: unexpected error; continuing", self.id)
            self.imports.wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_until_either(stop, self.imports.wakeup), self.poll_interval)
        log.info("task worker %s stopped", self.id)

    async def run_one(self) -> bool:
        """Claim and run one pending task; False when there was none."""
        task = await self.db.run(lambda s: TaskRepository(s).claim(self.id, utcnow()))
        if task is None:
            return False
        await self._process(task)
        return True

    def runner(self, task: Task) -> TaskRunner:
        """Location imports run in the locations service; every other type is an image import."""
        if task.type == TaskType.LOCATION_IMPORT:
            return self.locations if self.locations is not None else _Unsupported(task.type)
        return self.imports

    async def _process(self, task: Task) -> None:
        log.info("task %s (%s, image %s) claimed by %s", task.id, task.type.value, task.image_id, self.id)
        progress = {"done": 0, "total": None}

        def report(done: int, total: int | None) -> None:
            progress["done"], progress["total"] = done, total

        runner = self.runner(task)
        running = asyncio.ensure_future(runner.run(task, report))
        beating = asyncio.create_task(self._beat(task, progress, running))
        try:
            result = await running
        except asyncio.CancelledError:
            if not beating.done():  # not stopped by _beat: this worker itself is being cancelled
                raise
            log.warning("task %s: abandoned; the worker that took it over finishes it", task.id)
            return
        except Exception as exc:
            beating.cancel()
            message = describe_failure(exc)
            await runner.fail(task, message)
            await self._finish(task, TaskStatus.FAILURE, None, message)
            return
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
        await self._finish(task, TaskStatus.SUCCESS, result, "")

    async def _beat(self, task: Task, progress: dict[str, int | None], running: asyncio.Future[Any]) -> None:
        """Beat until cancelled; when the task turns out to have been reaped, stop ``running`` and return."""
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            done, total = int(progress["done"] or 0), progress["total"]
            try:
                owned = await self.db.run(functools.partial(_heartbeat, task.id, self.id, done, total))
                if owned:
                    await self.runner(task).record_progress(task, done, total)
            except Exception as exc:  # a missed beat is harmless; the next one may get through
                log.warning("task %s: heartbeat failed: %s", task.id, describe_failure(exc))
                continue
            if not owned:
                # paused or cut off for longer than task_stale_after: another worker runs it now
                log.warning("task %s: lost ownership (reaped); stopping this run of it", task.id)
                running.cancel()
                return

    async def _finish(self, task: Task, status: TaskStatus, result: dict[str, object] | None, message: str) -> None:
        now = utcnow()
        recorded = await self.db.run(
            lambda s: TaskRepository(s).finish(
                task.id, self.id, status, result=result, message=message, now=now, expires_at=now + TASK_TTL
            )
        )
        if recorded:
            log.info("task %s finished: %s %s", task.id, status.value, message)
        else:
            log.warning("task %s: another worker took it over; this run's %s is not recorded", task.id, status.value)

    async def reap(self) -> None:
        """Retry or fail tasks whose worker stopped beating."""
        cutoff = utcnow() - timedelta(seconds=self.stale_after)
        for task in await self.db.run(lambda s: TaskRepository(s).stale(cutoff)):
            await self._reap_one(task)

    async def _reap_one(self, task: Task) -> None:
        stale_worker = await self.db.run(lambda s: claimed_by(s, task.id))
        if task.attempts < self.max_attempts:
            if await self.db.run(lambda s: TaskRepository(s).release(task.id, stale_worker, utcnow())):
                log.warning(
                    "task %s: worker %s stopped; retrying (attempt %d of %d)",
                    task.id,
                    stale_worker,
                    task.attempts + 1,
                    self.max_attempts,
                )
            return
        message = f"The worker running this task stopped responding {task.attempts} times; giving up."
        now = utcnow()
        finished = await self.db.run(
            lambda s: TaskRepository(s).finish(
                task.id,
                stale_worker,
                TaskStatus.FAILURE,
                result=None,
                message=message,
                now=now,
                expires_at=now + TASK_TTL,
            )
        )
        if finished:
            await self.runner(task).fail(task, message)


def _heartbeat(task_id: str, worker: str, done: int, total: int | None, session: Any) -> bool:
    return TaskRepository(session).heartbeat(task_id, worker, utcnow(), done, total)


async def _until_either(first: asyncio.Event, second: asyncio.Event) -> None:
    waits = [asyncio.create_task(first.wait()), asyncio.create_task(second.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
