"""glimpse.jobs.worker: the runner registry, and a task type without a runner fails cleanly, saying so."""

from __future__ import annotations

import asyncio

from glimpse.container import Services
from glimpse.db.repositories.tasks import TaskRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.images import new_id
from glimpse.domain.tasks import Task, TaskStatus, TaskType
from glimpse.jobs.worker import Worker, default_runners
from glimpse.services.task_queue import TASK_TTL


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
