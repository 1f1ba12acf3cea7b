"""A failing disk or database during a request: clear statuses, and no image left stuck or without data."""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from glimpse.container import Services
from glimpse.context import RequestContext
from glimpse.db import Database
from glimpse.errors import DatabaseUnavailable
from glimpse.services.image_data import ImageDataService
from glimpse.services.image_data import undo as upload_undo
from glimpse.settings import Settings
from glimpse.stores import filesystem
from glimpse.stores.filesystem import PARTIAL_SUFFIX
from tests.functional.conftest import OCTET, plain_error, store_files

MakeImage = Callable[..., dict[str, Any]]
ADMIN_CTX = RequestContext(user_id="admin", project_id="admin", roles=frozenset({"admin", "member", "reader"}))
UNAVAILABLE = "The database is unavailable; retry the request later."


def put(client: TestClient, image_id: str, data: bytes) -> Any:
    return client.put(f"/v2/images/{image_id}/file", content=data, headers=OCTET)


def status_of(client: TestClient, image_id: str) -> str:
    status: str = client.get(f"/v2/images/{image_id}").json()["status"]
    return status


def test_a_full_disk_is_413_and_leaves_nothing(
    client: TestClient, settings: Settings, make_image: MakeImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = make_image()

    def full(fd: int, direct: int | None, block: object, offset: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(filesystem, "_write_at", full)
    response = put(client, image["id"], b"x" * 100_000)
    assert response.status_code == 413
    assert response.text == plain_error(
        "413 Request Entity Too Large",
        "Image storage media is full: store local has no space left (No space left on device)",
    )
    assert status_of(client, image["id"]) == "queued"
    assert store_files(settings) == []
    monkeypatch.undo()
    assert put(client, image["id"], b"fits").status_code == 204


def test_a_read_only_store_is_503(
    client: TestClient, settings: Settings, make_image: MakeImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = make_image()
    real_open = os.open

    def read_only(path: Any, flags: int, *args: int) -> int:
        if str(path).endswith(PARTIAL_SUFFIX):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real_open(path, flags, *args)

    monkeypatch.setattr(filesystem.os, "open", read_only)
    response = put(client, image["id"], b"data")
    assert response.status_code == 503
    assert response.text == plain_error("503 Service Unavailable", "Store local cannot write: Read-only file system")
    assert status_of(client, image["id"]) == "queued"
    assert store_files(settings) == []


def test_an_unavailable_database_is_503(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable(self: Database, work: Any) -> Any:
        raise DatabaseUnavailable(UNAVAILABLE)

    monkeypatch.setattr(Database, "transaction", unavailable)
    for response in (
        client.get("/v2/images"),
        client.post("/v2/images", json={"name": "x"}),
        client.get("/v2/images/3b1e5d1c-56b5-4c3e-9d5e-2f0a8d1c7e6f"),
    ):
        assert response.status_code == 503
        assert response.text == plain_error("503 Service Unavailable", UNAVAILABLE)


def test_an_activation_that_committed_keeps_its_data(
    client: TestClient, services: Services, make_image: MakeImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database failed answering the commit of the activation, which had happened all the same."""
    image = make_image()
    activate = ImageDataService._activate

    async def committed_then_lost(self: ImageDataService, *args: Any) -> Any:
        await activate(self, *args)
        raise DatabaseUnavailable(UNAVAILABLE)

    monkeypatch.setattr(ImageDataService, "_activate", committed_then_lost)
    assert put(client, image["id"], b"kept").status_code == 503
    assert status_of(client, image["id"]) == "active"
    assert client.get(f"/v2/images/{image['id']}/file").content == b"kept"


def test_an_activation_that_did_not_commit_is_undone(
    client: TestClient, settings: Settings, make_image: MakeImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = make_image()

    async def lost(self: ImageDataService, *args: Any) -> Any:
        raise DatabaseUnavailable(UNAVAILABLE)

    monkeypatch.setattr(ImageDataService, "_activate", lost)
    assert put(client, image["id"], b"gone").status_code == 503
    assert status_of(client, image["id"]) == "queued"
    assert store_files(settings) == []


def test_the_image_goes_back_to_queued_once_the_database_returns(
    client: TestClient, services: Services, settings: Settings, make_image: MakeImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database went away during the activation and stays away a while: the data is kept until the
    database can say the activation did not commit, then removed, and the image is put back to queued."""
    image = make_image()
    monkeypatch.setattr(upload_undo, "SETTLE_FIRST_RETRY", 0.01)
    service = services.image_data
    outage = {"calls": 0}
    transaction = Database.transaction

    async def lost(self: ImageDataService, *args: Any) -> Any:
        outage["calls"] = 3  # the next three units of work fail too
        raise DatabaseUnavailable(UNAVAILABLE)

    def flaky(self: Database, work: Any) -> Any:
        if outage["calls"]:
            outage["calls"] -= 1
            raise DatabaseUnavailable(UNAVAILABLE)
        return transaction(self, work)

    monkeypatch.setattr(ImageDataService, "_activate", lost)
    monkeypatch.setattr(Database, "transaction", flaky)
    seen_during_outage: list[list[str]] = []

    async def source() -> AsyncIterator[bytes]:
        yield b"z" * 5000

    async def scenario() -> None:
        with pytest.raises(DatabaseUnavailable):
            await service.upload(ADMIN_CTX, image["id"], source(), declared_size=None, store_id=None)
        seen_during_outage.append([p.name for p in store_files(settings)])
        await asyncio.gather(*service._background)

    asyncio.run(scenario())
    assert seen_during_outage == [[image["id"]]]  # kept while the outcome was unknown
    assert outage["calls"] == 0
    assert status_of(client, image["id"]) == "queued"
    assert store_files(settings) == []
