"""The task worker: claims pending tasks, runs each with the runner of its type, and reaps dead workers' tasks.

Runs in-process (started by the app) or as `glimpse worker` processes; any number may run against one
database. The queue itself (claim, heartbeat, the one transaction that ends a task, reaping) is
``services/task_queue.py``; this module only knows which runner runs which task type
(:func:`default_runners`) and drives the loop. A worker killed mid-task stops beating: another worker (or
this one after a restart) puts the task back to pending for a retry, or fails it cleanly after
``max_attempts``, undoing the run's changes either way.
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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from glimpse.container import Services
from glimpse.domain.tasks import Task, TaskType
from glimpse.errors import DatabaseUnavailable
from glimpse.services.task_queue import Holding, Outcome, Runner, TaskQueue, Unsupported, describe_failure

log = logging.getLogger(__name__)

Sweep = tuple[float, Callable[[], Awaitable[object]]]
"""``(interval in seconds, job)``: housekeeping a worker runs between tasks."""


def default_runners(services: Services) -> dict[TaskType, Runner]:
    """The runner of every task type Glimpse records."""
    return {
        TaskType.IMPORT: services.imports,
        TaskType.API_IMAGE_IMPORT: services.imports,
        TaskType.LOCATION_IMPORT: services.locations,
        TaskType.OUTBOX_DRAIN: services.outbox,
        TaskType.ARTIFACT_BLOB_DELETE: services.artifact_blobs.objects,
        TaskType.ARTIFACT_SCRUB: services.artifact_scrubber,
        TaskType.CACHE_IMAGE: services.cache,
        TaskType.WEBHOOK_DISPATCH: services.webhooks,
        TaskType.CATALOG_REFRESH: services.catalog,
        TaskType.CATALOG_INSTALL: services.catalog_installs,
    }


class Worker:
    def __init__(
        self,
        queue: TaskQueue,
        runners: Mapping[TaskType, Runner],
        *,
        heartbeat_interval: float = 2.0,
        stale_after: float = 30.0,
        poll_interval: float = 2.0,
        max_attempts: int = 2,
        sweeps: Sequence[Sweep] = (),
        node: str | None = None,
        only_own_types: bool = False,
    ) -> None:
        self.queue = queue
        self.runners = dict(runners)
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.heartbeat_interval = heartbeat_interval
        self.stale_after = stale_after
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self.sweeps = list(sweeps)
        self.node = node  # tasks bound to this node (its image cache's fills) are claimed here too
        # claim only the task types this worker has runners for (a worker of the artifacts server)
        self.claim_types = frozenset(self.runners) if only_own_types else None

    @classmethod
    def from_services(cls, services: Services, runners: Mapping[TaskType, Runner] | None = None) -> Worker:
        s = services.settings
        return cls(
            services.queue,
            default_runners(services) if runners is None else runners,
            heartbeat_interval=s.task_heartbeat_interval,
            stale_after=s.task_stale_after,
            poll_interval=s.task_heartbeat_interval,
            max_attempts=s.task_max_attempts,
            sweeps=[
                (300.0, services.imports.sweep_staging),
                (60.0, services.cache.sweep),
                (s.task_heartbeat_interval, services.cache.evict_unservable),
                (s.outbox_retry_interval, services.outbox.redrive),
                *(cls._webhook_sweeps(services) if s.webhooks_enabled else []),
                (s.catalog_refresh_interval, services.catalog.schedule_refresh),
                (3600.0, services.audit.purge),
            ],
            node=s.cache_node() if s.image_cache_dir is not None else None,
        )

    @staticmethod
    def _webhook_sweeps(services: Services) -> list[Sweep]:
        """Due retries get a dispatch; every hour, secrets are sealed with the first configured key."""
        webhooks = services.webhooks
        return [(min(5.0, max(0.2, services.settings.webhook_backoff / 2)), webhooks.sweep),
                (3600.0, webhooks.seal_plain_secrets)]  # fmt: skip

    async def run_forever(self, stop: asyncio.Event) -> None:
        log.info("task worker %s started", self.id)
        next_sweep = [0.0] * len(self.sweeps)
        while not stop.is_set():
            # cleared before looking, so a task committed while this pass runs wakes the next wait at once
            self.queue.wakeup.clear()
            try:
                for i, (interval, sweep) in enumerate(self.sweeps):
                    if time.monotonic() >= next_sweep[i]:
                        await sweep()
                        next_sweep[i] = time.monotonic() + interval
                await self.reap()
                while not stop.is_set() and await self.run_one():
                    pass
            except DatabaseUnavailable as exc:
                log.warning("task worker %s: %s; retrying in %.0f s", self.id, exc.message, self.poll_interval)
            except Exception:
                log.exception("task worker %s: unexpected error; continuing", self.id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(until_either(stop, self.queue.wakeup), self.poll_interval)
        log.info("task worker %s stopped", self.id)

    async def run_one(self) -> bool:
        """Claim and run one pending task; False when there was none."""
        task = await self.queue.claim(self.id, self.claim_types, node=self.node)
        if task is None:
            return False
        await self._process(task)
        return True

    def runner(self, task: Task) -> Runner:
        return self.runners.get(task.type) or Unsupported(task.type)

    async def _process(self, task: Task) -> None:
        log.info("task %s (%s, image %s) claimed by %s", task.id, task.type.value, task.image_id, self.id)
        runner = self.runner(task)
        # held from before the run until its result is recorded or undone (or the run is abandoned)
        async with runner.holding(task) if isinstance(runner, Holding) else contextlib.nullcontext():
            await self._run_and_end(task, runner)

    async def _run_and_end(self, task: Task, runner: Runner) -> None:
        progress: dict[str, int | None] = {"done": 0, "total": None}

        def report(done: int, total: int | None) -> None:
            progress["done"], progress["total"] = done, total

        running = asyncio.ensure_future(runner.run(task, report))
        beating = asyncio.create_task(self._beat(task, runner, progress, running))
        try:
            outcome = await running
        except asyncio.CancelledError:
            if not beating.done():  # not stopped by _beat: this worker itself is being cancelled
                raise
            log.warning("task %s: abandoned; the worker that took it over finishes it", task.id)
            return
        except Exception as exc:
            await self._fail(task, runner, describe_failure(exc))
            return
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
        await self._complete(task, runner, outcome, progress["done"])

    async def _complete(self, task: Task, runner: Runner, outcome: Outcome, copied: int | None) -> None:
        try:
            recorded = await _retrying(lambda: self.queue.complete(task, self.id, outcome, copied))
        except DatabaseUnavailable:
            raise  # nothing was kept and nothing is undone: the task is reaped and run again
        except Exception as exc:  # the outcome was refused (the image changed meanwhile): nothing was kept
            if outcome.abort is not None:
                await outcome.abort()
            await self._fail(task, runner, describe_failure(exc))
            return
        if not recorded:
            log.warning("task %s: another worker took it over; this run's success is not recorded", task.id)
            if outcome.abandon is not None:
                try:
                    await outcome.abandon()
                except Exception as exc:  # what it leaves is unreferenced: `glimpse fsck` finds it
                    log.warning("task %s: removing this run's work failed: %s", task.id, describe_failure(exc))
            return
        log.info("task %s finished: success", task.id)
        if outcome.after is not None:
            try:
                await outcome.after()
            except Exception as exc:
                log.warning("task %s: clean-up after success failed: %s", task.id, describe_failure(exc))

    async def _fail(self, task: Task, runner: Runner, message: str) -> None:
        undo = await _retrying(lambda: runner.undo(task, message))
        if await _retrying(lambda: self.queue.fail(task, self.id, message, undo)):
            log.warning("task %s (%s, image %s) failed: %s", task.id, task.type.value, task.image_id, message)
        else:
            log.warning("task %s: another worker took it over; this run's failure is not recorded", task.id)

    async def _beat(
        self, task: Task, runner: Runner, progress: dict[str, int | None], running: asyncio.Future[Any]
    ) -> None:
        """Beat until cancelled; when the task turns out to have been reaped, stop ``running`` and return."""
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            done, total = int(progress["done"] or 0), progress["total"]
            try:
                owned = await self.queue.heartbeat(
                    task, self.id, done, total, functools.partial(runner.on_progress, task, done, total)
                )
            except Exception as exc:  # a missed beat is harmless; the next one may get through
                log.warning("task %s: heartbeat failed: %s", task.id, describe_failure(exc))
                continue
            if not owned:
                # paused or cut off for longer than task_stale_after: another worker runs it now
                log.warning("task %s: lost ownership (reaped); stopping this run of it", task.id)
                running.cancel()
                return

    async def reap(self) -> None:
        """Retry or fail tasks whose worker stopped beating (only a worker that runs every type reaps: it has
        each type's undo)."""
        if self.claim_types is not None:
            return
        await self.queue.reap(self.runners, stale_after=self.stale_after, max_attempts=self.max_attempts)


T = TypeVar("T")
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0)


async def _retrying(step: Callable[[], Awaitable[T]]) -> T:
    """``step()``, tried again while the database is unavailable (busy or briefly unreachable): a task's
    end is one transaction, so a try that failed left nothing behind."""
    for delay in RETRY_DELAYS:
        try:
            return await step()
        except DatabaseUnavailable as exc:
            log.warning("database unavailable while ending a task (%s); trying again in %.1f s", exc.message, delay)
            await asyncio.sleep(delay)
    return await step()


async def until_either(first: asyncio.Event, second: asyncio.Event) -> None:
    waits = [asyncio.create_task(first.wait()), asyncio.create_task(second.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
