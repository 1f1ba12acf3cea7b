"""glimpse.services.task_queue on a real database: enqueue wakes after commit only, the end of a task and its
runner's step are one transaction, a refused outcome fails the task, a lost task is never ended by its old
worker, and reaping retries then fails with the runner's undo."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from glimpse.container import Services
from glimpse.db.models import TaskRow
from glimpse.db.repositories.tasks import TaskRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.images import new_id
from glimpse.domain.tasks import Task, TaskStatus, TaskType
from glimpse.errors import Conflict, DatabaseUnavailable
from glimpse.services.task_queue import TASK_TTL, Outcome, Progress, Step, TaskQueue


def _task(kind: TaskType = TaskType.API_IMAGE_IMPORT) -> Task:
    now = utcnow()
    return Task(
        id=new_id(), type=kind, status=TaskStatus.PENDING, owner="p", created_at=now, updated_at=now,
        input={"note": "test"}, expires_at=now + TASK_TTL,
    )  # fmt: skip


def _enqueue(services: Services, task: Task) -> None:
    services.db.run_sync(lambda s: services.queue.enqueue(s, task))


def _row(services: Services, task_id: str) -> Task:
    return services.db.run_sync(lambda s: TaskRepository(s).get(task_id, None))


class _Marks:
    """A runner's step writes a mark (a second task row) so the test sees whether it was committed."""

    def __init__(self) -> None:
        self.mark = _task(TaskType.IMPORT)

    def step(self, session: Any) -> None:
        TaskRepository(session).add(self.mark)

    def committed(self, services: Services) -> bool:
        return services.db.run_sync(lambda s: s.get(TaskRow, self.mark.id)) is not None


def test_enqueue_wakes_the_worker_only_after_commit(services: Services) -> None:
    queue = services.queue
    task = _task()

    def rolled_back(session: Any) -> None:
        queue.enqueue(session, task)
        raise Conflict("changed my mind")

    async def scenario() -> None:
        queue.wakeup.clear()
        with pytest.raises(Conflict):
            await services.db.run(rolled_back)
        assert not queue.wakeup.is_set()
        await services.db.run(lambda s: queue.enqueue(s, task))
        assert queue.wakeup.is_set()

    asyncio.run(scenario())
    assert _row(services, task.id).status == TaskStatus.PENDING


def test_complete_runs_the_runner_step_in_the_same_transaction(services: Services) -> None:
    queue, task, marks = services.queue, _task(), _Marks()
    _enqueue(services, task)

    async def scenario() -> None:
        claimed = await queue.claim("w1")
        assert claimed is not None
        assert claimed.id == task.id
        assert await queue.complete(claimed, "w1", Outcome(result={"ok": 1}, finish=marks.step), bytes_done=5 << 20)

    asyncio.run(scenario())
    done = _row(services, task.id)
    assert (done.status, done.result) == (TaskStatus.SUCCESS, {"ok": 1})
    assert done.bytes_done == 5 << 20  # the whole copy, whatever the last heartbeat had counted
    assert marks.committed(services)


def test_a_refused_step_keeps_nothing_of_the_ending_transaction(services: Services) -> None:
    queue, task, marks = services.queue, _task(), _Marks()
    _enqueue(services, task)

    def refused(session: Any) -> None:
        marks.step(session)
        raise Conflict("the image changed")

    async def scenario() -> None:
        claimed = await queue.claim("w1")
        assert claimed is not None
        with pytest.raises(Conflict):
            await queue.complete(claimed, "w1", Outcome(result={}, finish=refused))

    asyncio.run(scenario())
    assert _row(services, task.id).status == TaskStatus.PROCESSING
    assert not marks.committed(services)


def test_a_worker_that_lost_its_task_cannot_end_it(services: Services) -> None:
    queue, task, marks = services.queue, _task(), _Marks()
    _enqueue(services, task)

    async def scenario() -> None:
        first = await queue.claim("w1")
        assert first is not None
        assert await queue.release(first, "w1")  # reaped
        second = await queue.claim("w2")
        assert second is not None
        assert not await queue.complete(first, "w1", Outcome(result={}, finish=marks.step))
        assert not await queue.fail(first, "w1", "late", marks.step)
        assert await queue.complete(second, "w2", Outcome(result={"by": "w2"}))

    asyncio.run(scenario())
    done = _row(services, task.id)
    assert (done.status, done.result, done.attempts) == (TaskStatus.SUCCESS, {"by": "w2"}, 2)
    assert not marks.committed(services)


class _Undoing:
    def __init__(self, marks: _Marks) -> None:
        self.marks = marks
        self.reasons: list[str] = []

    async def run(self, task: Task, progress: Progress) -> Outcome:
        raise AssertionError("not run here")

    async def undo(self, task: Task, reason: str) -> Step | None:
        self.reasons.append(reason)
        return self.marks.step

    def on_progress(self, task: Task, done: int, total: int | None, session: Any) -> None:
        pass


def _age_heartbeat(services: Services, task_id: str) -> None:
    def work(session: Any) -> None:
        row = session.get(TaskRow, task_id)
        row.heartbeat_at = utcnow() - timedelta(minutes=5)

    services.db.run_sync(work)


def test_reap_retries_then_fails_with_the_runner_s_undo(services: Services) -> None:
    queue: TaskQueue = services.queue
    task, marks = _task(), _Marks()
    runner = _Undoing(marks)
    _enqueue(services, task)

    async def scenario() -> None:
        assert await queue.claim("dead-1") is not None
        _age_heartbeat(services, task.id)
        assert [what for _, what in await queue.reap({task.type: runner}, stale_after=30, max_attempts=2)] == [
            "retried"
        ]
        assert await queue.claim("dead-2") is not None
        _age_heartbeat(services, task.id)
        assert [what for _, what in await queue.reap({task.type: runner}, stale_after=30, max_attempts=2)] == ["failed"]

    asyncio.run(scenario())
    done = _row(services, task.id)
    assert done.status == TaskStatus.FAILURE
    assert "stopped responding 2 times" in done.message
    assert runner.reasons == [done.message]
    assert marks.committed(services)  # the undo ran in the failing transaction


class _FlakyUndo(_Undoing):
    """Its undo meets an unavailable database once (a busy SQLite, a dropped connection)."""

    async def undo(self, task: Task, reason: str) -> Step | None:
        if not self.reasons:
            self.reasons.append("unavailable")
            raise DatabaseUnavailable("The database is unavailable; retry the request later.")
        return await super().undo(task, reason)


def test_a_reap_cut_off_half_way_is_taken_up_again(services: Services) -> None:
    """The race behind the flaky fault test: the reaper failed the task, then could not put the image back
    (its database call failed), and nothing ever looked at the failed task again. Failing and undoing are one
    transaction now: a reap cut off half-way leaves the task stale, and the next pass finishes it."""
    queue: TaskQueue = services.queue
    task, marks = _task(), _Marks()
    runner = _FlakyUndo(marks)
    _enqueue(services, task)

    async def scenario() -> None:
        assert await queue.claim("dead") is not None
        _age_heartbeat(services, task.id)
        with pytest.raises(DatabaseUnavailable):
            await queue.reap({task.type: runner}, stale_after=30, max_attempts=1)
        assert _row(services, task.id).status == TaskStatus.PROCESSING  # nothing half-done
        assert [what for _, what in await queue.reap({task.type: runner}, stale_after=30, max_attempts=1)] == [
            "failed"
        ]

    asyncio.run(scenario())
    assert _row(services, task.id).status == TaskStatus.FAILURE
    assert marks.committed(services)
