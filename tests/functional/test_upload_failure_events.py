"""A failed upload sends what Glance sends: ``image.upload`` at ERROR priority whose payload is the reason,
then ``image.update`` with the image back in ``queued`` (read from the outbox: no worker drains it here)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from glimpse.container import Services
from glimpse.db.repositories.outbox import OutboxRepository
from glimpse.domain.outbox import OutboxMessage
from glimpse.settings import load_settings
from tests.conftest import running_services
from tests.functional.conftest import ALICE, OCTET


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
