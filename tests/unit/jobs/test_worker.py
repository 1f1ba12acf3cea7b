"""glimpse.jobs.worker: the runner registry, a task type without a runner fails cleanly, saying so, and a runner's
hold lasts until its task's end is recorded."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from glimpse.container import Services
from glimpse.db.repositories.tasks import TaskRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.images import new_id
from glimpse.domain.tasks import Task, TaskStatus, TaskType
from glimpse.errors import BadRequest
from glimpse.jobs.worker import Worker, default_runners
from glimpse.services.task_queue import TASK_TTL, Holding, Outcome, Progress, Step


def test_every_task_type_has_a_default_runner(services: Services) -> None:
    runners = default_runners(services)
    assert set(runners) == set(TaskType)
    assert runners[TaskType.API_IMAGE_IMPORT] is services.imports
    assert runners[TaskType.IMPORT] is services.imports
    assert runners[TaskType.LOCATION_IMPORT] is services.locations


def test_a_task_type_without_a_runner_fails_with_a_message(services: Services) -> None:
    now = utcnow()
    task = Task(
        id=new_id(), type=TaskType.LOCATION_IMPORT, status=TaskStatus.PENDING, owner="p", created_at=now,
        updated_at=now, image_id=new_id(), expires_at=now + TASK_TTL,
    )  # fmt: skip
    services.db.run_sync(lambda s: services.queue.enqueue(s, task))
    worker = Worker(services.queue, {TaskType.API_IMAGE_IMPORT: services.imports})

    assert asyncio.run(worker.run_one())
    done = services.db.run_sync(lambda s: TaskRepository(s).get(task.id, None))
    assert done.status == TaskStatus.FAILURE
    assert done.message == "This worker has no runner for location_import tasks"
    assert not asyncio.run(worker.run_one())  # nothing left to claim


class HoldingRunner:
    """A runner that holds something per task (as imports hold their image's writer lock): notes what the task
    looked like in the database when the hold began and ended, and when the run began."""

    def __init__(self, services: Services, fails: bool) -> None:
        self.services, self.fails = services, fails
        self.seen: list[tuple[str, TaskStatus]] = []

    def status(self, task: Task) -> TaskStatus:
        return self.services.db.run_sync(lambda s: TaskRepository(s).get(task.id, None)).status

    @contextlib.asynccontextmanager
    async def holding(self, task: Task) -> AsyncIterator[None]:
        self.seen.append(("held", self.status(task)))
        yield
        self.seen.append(("let go", self.status(task)))

    async def run(self, task: Task, progress: Progress) -> Outcome:
        self.seen.append(("run", self.status(task)))
        if self.fails:
            raise BadRequest("no")
        return Outcome(result={})

    async def undo(self, task: Task, reason: str) -> Step | None:
        return None

    def on_progress(self, task: Task, done: int, total: int | None, session: Any) -> None:
        pass


@pytest.mark.parametrize("fails", [False, True], ids=["succeeds", "fails"])
def test_a_runner_s_hold_lasts_until_the_task_s_end_is_recorded(services: Services, fails: bool) -> None:
    """What a run wrote is recorded (or undone) by the transaction that ends its task, after the run: an import's
    writer lock held only while it ran would let another node's fsck remove data about to be recorded."""
    now = utcnow()
    task = Task(
        id=new_id(), type=TaskType.LOCATION_IMPORT, status=TaskStatus.PENDING, owner="p", created_at=now,
        updated_at=now, image_id=new_id(), expires_at=now + TASK_TTL,
    )  # fmt: skip
    services.db.run_sync(lambda s: services.queue.enqueue(s, task))
    runner = HoldingRunner(services, fails)
    assert isinstance(runner, Holding)

    assert asyncio.run(Worker(services.queue, {TaskType.LOCATION_IMPORT: runner}).run_one())
    ended = TaskStatus.FAILURE if fails else TaskStatus.SUCCESS
    assert runner.seen == [("held", TaskStatus.PROCESSING), ("run", TaskStatus.PROCESSING), ("let go", ended)]
