"""The end of a task is one transaction: no client ever sees an image finished by a task that is still
processing, nor a finished task whose image is not.

The worker is driven by the test, and its runner is the real one wrapped so that the ending transaction
stops after the image was changed (and flushed to the database) but before it commits: the API, read
through another connection at exactly that point, must still show the image importing and the task
processing; once the transaction commits, both are finished together. The project's quota counts the task's
data exactly once throughout. Deterministic on both databases.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from glimpse.container import Services, build_services
from glimpse.domain.quotas import Resource
from glimpse.domain.tasks import Task, TaskType
from glimpse.jobs.worker import Worker, default_runners
from glimpse.services.task_queue import Outcome, Progress, Runner, Step
from glimpse.settings import Settings, load_settings
from tests.conftest import make_client
from tests.functional.conftest import OCTET

DATA = os.urandom(1024 * 1024 + 5)
WAIT = 60.0  # a bound for the events below, never reached unless something is broken


class PausingRunner:
    """The real runner, but its ending step waits for ``go`` once it has changed (and flushed) the image."""

    def __init__(self, inner: Runner) -> None:
        self.inner = inner
        self.halfway = threading.Event()
        self.go = threading.Event()

    async def run(self, task: Task, progress: Progress) -> Outcome:
        outcome = await self.inner.run(task, progress)
        finish = outcome.finish
        assert finish is not None

        def paused(session: Any) -> None:
            finish(session)
            session.flush()  # the image's new row values are in the database, uncommitted
            self.halfway.set()
            assert self.go.wait(WAIT)

        outcome.finish = paused
        return outcome

    async def undo(self, task: Task, reason: str) -> Step | None:
        return await self.inner.undo(task, reason)

    def on_progress(self, task: Task, done: int, total: int | None, session: Any) -> None:
        self.inner.on_progress(task, done, total, session)


@pytest.fixture
def app_settings(tmp_path: Path, clean_db: str) -> Settings:
    return load_settings(
        env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="noauth", worker_in_process=False
    )


@pytest.fixture
def app(app_settings: Settings) -> Iterator[tuple[TestClient, Services]]:
    services = build_services(app_settings)
    with make_client(app_settings, services) as client:
        yield client, services
    services.close()


def _run_one_in_background(services: Services, task_type: TaskType, runner: PausingRunner) -> threading.Thread:
    runners = {**default_runners(services), task_type: runner}
    worker = Worker(services.queue, runners)
    outcome: list[bool] = []
    thread = threading.Thread(target=lambda: outcome.append(asyncio.run(worker.run_one())), daemon=True)
    thread.start()
    return thread


def _observed(client: TestClient, image_id: str) -> tuple[str, str]:
    image = client.get(f"/v2/images/{image_id}").json()
    [task] = client.get(f"/v2/images/{image_id}/tasks").json()["tasks"]
    return image["status"], task["status"]


def _limit(client: TestClient, services: Services, image_id: str) -> None:
    """A size limit for the image's owner, so that /v2/info/usage reports what its quota counts."""
    owner = client.get(f"/v2/images/{image_id}").json()["owner"]
    asyncio.run(services.images.quotas.set_limits(owner, {Resource.IMAGE_SIZE_TOTAL: 100}))


def _size_counted(client: TestClient) -> int:
    """MiB of image_size_total the project's quota counts now (reservations included)."""
    used: int = client.get("/v2/info/usage").json()["usage"]["image_size_total"]["usage"]
    return used


def _check_pause_then_commit(
    client: TestClient, image_id: str, runner: PausingRunner, thread: threading.Thread
) -> None:
    """Also: the quota counts the task's data all along, held until the end commits, then the image's size once
    (before, the run released its hold before the ending transaction, and for that moment counted nothing)."""
    assert runner.halfway.wait(WAIT), "the task never reached its ending transaction"
    try:
        assert _observed(client, image_id) == ("importing", "processing")
        assert _size_counted(client) >= 1  # the data read (a stream of unknown size holds 64 MiB ahead)
    finally:
        runner.go.set()
        thread.join(WAIT)
    assert not thread.is_alive()
    assert _observed(client, image_id) == ("active", "success")
    assert _size_counted(client) == 1


def test_a_location_import_ends_in_one_transaction(app: tuple[TestClient, Services]) -> None:
    client, services = app
    store = services.stores.get(services.stores.default_id)
    datadir = Path(services.settings.stores[store.id].options.filesystem_store_datadir)
    datadir.mkdir(parents=True, exist_ok=True)
    (datadir / "external.img").write_bytes(DATA)
    image_id = client.post("/v2/images", json={"disk_format": "raw", "container_format": "bare"}).json()["id"]
    _limit(client, services, image_id)
    added = client.post(f"/v2/images/{image_id}/locations", json={"url": (datadir / "external.img").as_uri()})
    assert added.status_code == 202, added.text

    runner = PausingRunner(services.locations)
    thread = _run_one_in_background(services, TaskType.LOCATION_IMPORT, runner)
    _check_pause_then_commit(client, image_id, runner, thread)
    assert (
        client.get(f"/v2/images/{image_id}").json()["checksum"] == hashlib.md5(DATA, usedforsecurity=False).hexdigest()
    )


def test_an_image_import_ends_in_one_transaction(app: tuple[TestClient, Services]) -> None:
    client, services = app
    image_id = client.post("/v2/images", json={"disk_format": "raw", "container_format": "bare"}).json()["id"]
    _limit(client, services, image_id)
    assert client.put(f"/v2/images/{image_id}/stage", content=DATA, headers=OCTET).status_code == 204
    started = client.post(f"/v2/images/{image_id}/import", json={"method": {"name": "glance-direct"}})
    assert started.status_code == 202, started.text

    runner = PausingRunner(services.imports)
    thread = _run_one_in_background(services, TaskType.API_IMAGE_IMPORT, runner)
    _check_pause_then_commit(client, image_id, runner, thread)
    image = client.get(f"/v2/images/{image_id}").json()
    assert (image["os_glance_importing_to_stores"], image["os_glance_failed_import"]) == ("", "")
    assert client.get(f"/v2/images/{image_id}/file").content == DATA
