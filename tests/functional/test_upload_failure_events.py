"""A failed upload or import sends what Glance sends: ``image.upload`` at ERROR priority whose payload is the reason,
then ``image.update`` with the image back in ``queued`` (read from the outbox: no worker drains it here)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from glimpse.container import Services
from glimpse.db.repositories.outbox import OutboxRepository
from glimpse.domain.outbox import OutboxMessage
from glimpse.events.notifier import NotifierSink
from glimpse.jobs.worker import Worker
from glimpse.settings import load_settings
from tests.conftest import running_services
from tests.functional.conftest import ALICE, OCTET, web_settings
from tests.unit.events.test_events import PROTECTIONS
from tests.webserver import bytes_handler, serving


@pytest.fixture
def app(tmp_path: Path, clean_db: str) -> Iterator[tuple[TestClient, Services]]:
    settings = load_settings(
        env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="noauth", image_size_cap=1000,
        notification_driver=["messagingv2"], worker_in_process=False,
    )  # fmt: skip
    with running_services(settings) as pair:
        yield pair


def recorded(services: Services) -> list[OutboxMessage]:
    return services.db.run_sync(lambda s: OutboxRepository(s).undelivered(100))


def test_a_failed_upload_sends_an_error_image_upload_then_the_queued_image(app: tuple[TestClient, Services]) -> None:
    client, services = app
    image = client.post("/v2/images", json={"name": "big", "disk_format": "raw", "container_format": "bare"},
                        headers=ALICE).json()  # fmt: skip
    response = client.put(f"/v2/images/{image['id']}/file", content=b"x" * 5000, headers={**ALICE, **OCTET})
    assert response.status_code == 413
    messages = recorded(services)
    assert [(m.topic, m.payload["priority"]) for m in messages] == [
        ("image.create", "INFO"), ("image.update", "INFO"), ("image.prepare", "INFO"), ("image.upload", "ERROR"),
        ("image.update", "INFO"),
    ]  # fmt: skip
    failed = messages[3].payload
    assert isinstance(failed["payload"], str)
    assert failed["payload"].startswith(f"Cannot store the data of image {image['id']}: ")
    assert "1000" in failed["payload"]  # the reason the client got
    assert failed["project"] == "alpha"  # its webhooks get it
    assert messages[4].payload["payload"]["status"] == "queued"
    assert client.get(f"/v2/images/{image['id']}", headers=ALICE).json()["status"] == "queued"


def test_a_successful_upload_sends_no_error(app: tuple[TestClient, Services]) -> None:
    client, services = app
    image = client.post("/v2/images", json={"name": "ok", "disk_format": "raw", "container_format": "bare"},
                        headers=ALICE).json()  # fmt: skip
    uploaded = client.put(f"/v2/images/{image['id']}/file", content=b"x" * 10, headers={**ALICE, **OCTET})
    assert uploaded.status_code == 204
    assert [m.topic for m in recorded(services)][-3:] == ["image.upload", "image.activate", "image.update"]
    assert all(m.payload["priority"] == "INFO" for m in recorded(services))


@pytest.fixture
def importing(tmp_path: Path, clean_db: str) -> Iterator[tuple[TestClient, Services, str]]:
    protections = tmp_path / "protections.conf"
    protections.write_text(PROTECTIONS)
    settings = web_settings(
        tmp_path, clean_db, image_size_cap=1000, notification_driver=["messagingv2"], worker_in_process=False,
        notification_topics=["notifications", "notifications_admin"],
        notification_audience={"notifications_admin": ["admin"]}, property_protection_file=protections,
    )  # fmt: skip
    with serving(bytes_handler(b"x" * 5000)) as url, running_services(settings) as (client, services):
        yield client, services, f"{url}/image.raw"


def test_a_failed_import_sends_an_error_image_upload_then_the_task_failure(
    importing: tuple[TestClient, Services, str],
) -> None:
    client, services, url = importing
    image = client.post(
        "/v2/images", json={"name": "big", "disk_format": "raw", "container_format": "bare", "secret_note": "s"}
    ).json()  # as the admin, who may set the protected property
    started = client.post(f"/v2/images/{image['id']}/import", json={"method": {"name": "web-download", "uri": url}})
    assert started.status_code == 202, started.text
    assert asyncio.run(Worker.from_services(services).run_one())  # the import task runs and fails: too large
    [listed] = client.get("/v2/tasks").json()["tasks"]
    task = client.get(f"/v2/tasks/{listed['id']}").json()
    assert task["status"] == "failure"
    messages = recorded(services)
    assert [(m.topic, m.payload["priority"]) for m in messages[1:]] == [
        ("task.create", "INFO"), ("image.update", "INFO"), ("task.processing", "INFO"), ("image.prepare", "INFO"),
        ("image.upload", "ERROR"), ("image.update", "INFO"), ("task.failure", "INFO"),
    ]  # fmt: skip
    failed = messages[5].payload
    assert failed["payload"] == f"The web-download import of image {image['id']} failed: {task['message']}"
    assert "1000" in failed["payload"]
    assert failed["project"] == image["owner"]
    assert messages[7].payload["payload"]["status"] == "failure"
    # each topic's payload as its audience may read it: the protected property only for the admins' topic
    sink = NotifierSink(services.settings, services.webhooks.protections)
    queued = {topic: body["payload"] for topic, _, body in sink.messages(messages[6])}
    sink.close()
    assert queued["notifications_admin"]["properties"]["secret_note"] == "s"
    assert "secret_note" not in queued["notifications"]["properties"]
    assert queued["notifications"]["status"] == "queued"
    errors = {topic: (priority, body["payload"]) for topic, priority, body in sink.messages(messages[5])}
    assert errors["notifications"] == errors["notifications_admin"] == ("ERROR", failed["payload"])
