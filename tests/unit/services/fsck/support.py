"""What the fsck tests share: images made through the API, and faults made by hand in the real test database
(GLIMPSE_TEST_DB) and a real filesystem store, as a crash or a failing disk would leave them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from glimpse.container import Services
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.images import Location, Status
from glimpse.services.fsck import Fsck, FsckReport, Kind
from glimpse.stores.filesystem import FilesystemStore

OCTET = {"content-type": "application/octet-stream"}


def create(client: TestClient) -> str:
    response = client.post("/v2/images", json={"disk_format": "raw", "container_format": "bare"})
    assert response.status_code == 201, response.text
    image_id: str = response.json()["id"]
    return image_id


def active(client: TestClient, data: bytes = b"0123456789", store: str | None = None) -> str:
    image_id = create(client)
    headers = {**OCTET, **({"x-image-meta-store": store} if store else {})}
    response = client.put(f"/v2/images/{image_id}/file", content=data, headers=headers)
    assert response.status_code == 204, response.text
    return image_id


def status_of(client: TestClient, image_id: str) -> str:
    status: str = client.get(f"/v2/images/{image_id}").json()["status"]
    return status


def datadir(services: Services, store: str | None = None) -> Path:
    found = services.stores.get(store) if store else services.stores.default
    assert isinstance(found, FilesystemStore)
    return found.datadir


def check(services: Services, *, repair: bool = False, uploads_may_run: bool = False) -> FsckReport:
    return asyncio.run(Fsck(services.db, services.stores).check(repair=repair, uploads_may_run=uploads_may_run))


def kinds(report: FsckReport) -> list[tuple[Kind, str | None]]:
    return sorted((f.kind, f.image_id) for f in report.findings)


def set_saving(services: Services, image_id: str) -> None:
    moved = services.db.run_sync(
        lambda s: ImageRepository(s).set_status(image_id, [Status.QUEUED], Status.SAVING, utcnow())
    )
    assert moved


def add_location(services: Services, image_id: str, location: Location) -> None:
    def work(session: Any) -> None:
        repo = ImageRepository(session)
        image = repo.get(image_id, None)
        image.locations.append(location)
        repo.save(image)

    services.db.run_sync(work)
