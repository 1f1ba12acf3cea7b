"""An import run whose task was reaped and taken over by another worker (its worker paused for longer than
task_stale_after) must not touch the image nor the data when it carries on: each run writes its copy under a
key of its own (``<image id>.attempt-<token>``), so a late run that completes its download neither replaces
the new owner's data (with what may be other bytes: the source can change between the runs) nor, when it
removes its own copy, the new owner's.

The runs are driven directly through the import service, one after the other, so the interleavings a real
pause produces only by chance happen here every time."""

from __future__ import annotations

import asyncio
import hashlib
import http.server
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


class ChangingSource(http.server.BaseHTTPRequestHandler):
    """Answers every GET with ``data`` as it is at the time of the request."""

    data = DATA

    def do_GET(self) -> None:
        data = ChangingSource.data
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


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
    """A run of ``task`` ended as its worker ends it (jobs/worker.py): the outcome applied in the task's final
    transaction, and when the task was not the worker's any more, the run's own work removed."""
    outcome = await services.imports.run(task, _progress)
    assert outcome.result["stores"] == ["local"]
    recorded = await services.queue.complete(task, worker, outcome)
    if not recorded:
        assert outcome.abandon is not None
        await outcome.abandon()
    return recorded


async def _fail(services: Services, task: Task, worker: str, message: str) -> bool:
    return await services.queue.fail(task, worker, message, await services.imports.undo(task, message))


async def _assert_intact(services: Services, image_id: str, data: bytes = DATA) -> None:
    """The image is active with ``data``, and its copy is the only file in the store."""
    image = await services.images.load(ADMIN, image_id)
    assert image.status.value == "active"
    assert image.properties["os_glance_failed_import"] == ""
    assert "os_glance_import_task" not in image.properties
    [location] = image.locations
    assert _store_files(services) == [Path(location.url).name]
    assert Path(location.url).name.startswith(f"{image_id}.attempt-")
    stored = b"".join([chunk async for chunk in services.stores.get("local").open(location.url)])
    assert stored == data
    assert (image.size, image.os_hash_value) == (len(data), hashlib.sha512(data).hexdigest())


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

    asyncio.run(scenario())


def test_a_late_run_that_read_other_bytes_leaves_the_new_owner_s_data(services: Services) -> None:
    """The source changed between the runs: the new owner imported ``new``; the late run then reads the old
    bytes to the end and stores them, and must leave the image's data and checksums the new owner's."""
    new = os.urandom(len(DATA) - 11)

    async def scenario() -> None:
        with serving(ChangingSource) as base:
            ChangingSource.data = new
            image_id, first, second = await _reaped_and_retried(services, f"{base}/image.raw")
            assert await _complete(services, second, "worker-b")
            await _assert_intact(services, image_id, new)
            ChangingSource.data = DATA  # what the late run read, before the source changed
            assert not await _complete(services, first, "worker-a")
            await _assert_intact(services, image_id, new)

    try:
        asyncio.run(scenario())
    finally:
        ChangingSource.data = DATA
