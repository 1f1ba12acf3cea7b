"""An import run whose task was reaped and taken over by another worker (its worker paused for longer than
task_stale_after) must not touch the image nor the data when it carries on: both runs write the image's data
under the same name, so a late run that cleaned up "its" copy would delete the new owner's.

The runs are driven directly through the import service, one after the other, so the interleavings a real
pause produces only by chance happen here every time."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from glimpse.container import Services, build_services
from glimpse.context import RequestContext
from glimpse.db.repositories.tasks import TaskRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.tasks import Task
from tests.functional.conftest import web_settings
from tests.webserver import bytes_handler, serving

DATA = os.urandom(5 * 1024 * 1024 + 3)
ADMIN = RequestContext(user_id="admin", project_id="admin", roles=frozenset({"admin", "member", "reader"}))


@pytest.fixture
def url() -> Iterator[str]:
    with serving(bytes_handler(DATA)) as url:
        yield f"{url}/image.raw"


@pytest.fixture
def services(tmp_path: Path, clean_db: str) -> Iterator[Services]:
    built = build_services(web_settings(tmp_path, clean_db))
    yield built
    built.close()


def _progress(done: int, total: int | None) -> None:
    pass


async def _claim(services: Services, worker: str) -> Task:
    task = await services.db.run(lambda s: TaskRepository(s).claim(worker, utcnow()))
    assert task is not None
    assert task.claimed_by == worker
    return task


async def _reaped_and_retried(services: Services, url: str) -> tuple[str, Task, Task]:
    """An import whose first run (worker-a) stopped beating: the reaper released it, worker-b claimed it."""
    image = await services.images.create(ADMIN, {"name": "takeover", "disk_format": "raw", "container_format": "bare"})
    await services.imports.start(ADMIN, image.id, {"method": {"name": "web-download", "uri": url}})
    first = await _claim(services, "worker-a")
    assert await services.db.run(lambda s: TaskRepository(s).release(first.id, "worker-a", utcnow()))
    second = await _claim(services, "worker-b")
    return image.id, first, second


async def _complete(services: Services, task: Task, worker: str) -> bool:
    """A run of ``task`` ended as its worker ends it: the outcome applied in the task's final transaction."""
    outcome = await services.imports.run(task, _progress)
    assert outcome.result["stores"] == ["local"]
    return await services.queue.complete(task, worker, outcome)


async def _fail(services: Services, task: Task, worker: str, message: str) -> bool:
    return await services.queue.fail(task, worker, message, await services.imports.undo(task, message))


async def _assert_intact(services: Services, image_id: str) -> None:
    image = await services.images.load(ADMIN, image_id)
    assert image.status.value == "active"
    assert image.properties["os_glance_failed_import"] == ""
    assert "os_glance_import_task" not in image.properties
    [location] = image.locations
    data = b"".join([chunk async for chunk in services.stores.get("local").open(location.url)])
    assert hashlib.sha512(data).hexdigest() == image.os_hash_value == hashlib.sha512(DATA).hexdigest()


def _store_files(services: Services) -> list[str]:
    datadir = Path(services.settings.stores["local"].options.filesystem_store_datadir)
    return sorted(p.name for p in datadir.iterdir())


def test_a_late_run_after_the_new_owner_finished_changes_nothing(services: Services, url: str) -> None:
    async def scenario() -> None:
        image_id, first, second = await _reaped_and_retried(services, url)
        assert await _complete(services, second, "worker-b")
        await _assert_intact(services, image_id)
        before = await services.images.load(ADMIN, image_id)

        assert not await _complete(services, first, "worker-a")  # not recorded, nothing applied
        assert not await _fail(services, first, "worker-a", "the late run failed")  # no undo either
        after = await services.images.load(ADMIN, image_id)
        assert (after.locations, after.properties, after.updated_at) == (
            before.locations,
            before.properties,
            before.updated_at,
        )
        await _assert_intact(services, image_id)
        assert _store_files(services) == [image_id]

    asyncio.run(scenario())


def test_a_late_run_before_the_new_owner_finishes_changes_nothing(services: Services, url: str) -> None:
    async def scenario() -> None:
        image_id, first, second = await _reaped_and_retried(services, url)
        assert not await _complete(services, first, "worker-a")
        assert not await _fail(services, first, "worker-a", "the late run failed")
        image = await services.images.load(ADMIN, image_id)
        assert image.status.value == "importing"  # still the new owner's import
        assert image.properties["os_glance_importing_to_stores"] == "local"
        assert image.properties["os_glance_failed_import"] == ""

        assert await _complete(services, second, "worker-b")
        await _assert_intact(services, image_id)
        assert _store_files(services) == [image_id]

    asyncio.run(scenario())
