"""Multiple stores: X-Image-Meta-Store, the `stores` property, /v2/info/stores[/detail], DELETE /v2/stores/..."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from glimpse.container import Services, build_services
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain.images import Location
from glimpse.settings import Settings, load_settings
from tests.conftest import make_client
from tests.functional.conftest import ALICE, BOB, OCTET, plain_error, store_files

INI = """\
[DEFAULT]
enabled_backends = fast:file, cheap:file

[glance_store]
default_backend = fast

[fast]
store_description = Quick but dear
weight = 100

[cheap]
store_description = Slow but cheap
weight = 10
"""


@dataclass
class Multi:
    client: TestClient
    settings: Settings
    services: Services


def _multistore(settings: Settings) -> Iterator[Multi]:
    services = build_services(settings)
    try:
        with make_client(settings, services) as client:
            yield Multi(client, settings, services)
    finally:
        services.close()


@pytest.fixture
def multi(tmp_path: Path, clean_db: str) -> Iterator[Multi]:
    """Two filesystem stores from an INI file: `fast` (default, heavier) and `cheap`."""
    ini = tmp_path / "glimpse.conf"
    ini.write_text(INI)
    settings = load_settings(config_file=ini, env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="noauth")
    yield from _multistore(settings)


@pytest.fixture
def multi_env(tmp_path: Path, clean_db: str) -> Iterator[Multi]:
    """The same two stores named by environment variables, with `cheap` as the default."""
    env = {"GLIMPSE_ENABLED_BACKENDS": "fast:file,cheap:file", "GLIMPSE_DEFAULT_BACKEND": "cheap"}
    settings = load_settings(env=env, data_dir=tmp_path / "data", database_url=clean_db, auth="noauth")
    yield from _multistore(settings)


def create(client: TestClient, headers: dict[str, str] | None = None) -> str:
    response = client.post("/v2/images", json={"disk_format": "raw", "container_format": "bare"}, headers=headers or {})
    assert response.status_code == 201
    image_id: str = response.json()["id"]
    return image_id


def upload(client: TestClient, image_id: str, data: bytes, store: str | None = None) -> Any:
    headers = {**OCTET, **({"x-image-meta-store": store} if store else {})}
    return client.put(f"/v2/images/{image_id}/file", content=data, headers=headers)


def copy_to(multi: Multi, image_id: str, store_id: str, data: bytes) -> None:
    """Put a second copy of an image's data into another store, as a copy-image import would."""

    async def blocks() -> AsyncIterator[bytes]:
        yield data

    stored = asyncio.run(multi.services.stores.get(store_id).put(image_id, blocks()))

    def work(session: Any) -> None:
        repo = ImageRepository(session)
        image = repo.get(image_id, None)
        image.locations.append(Location(url=stored.url, store=store_id))
        repo.save(image)

    multi.services.db.run_sync(work)


# -- settings ---------------------------------------------------------------------------------------------------
def test_settings_from_ini(multi: Multi) -> None:
    assert list(multi.settings.stores) == ["fast", "cheap"]
    assert multi.settings.default_backend == "fast"
    assert multi.settings.stores["fast"].weight == 100
    assert multi.settings.stores["cheap"].description == "Slow but cheap"


def test_settings_from_env(multi_env: Multi) -> None:
    assert list(multi_env.settings.stores) == ["fast", "cheap"]
    assert multi_env.settings.default_backend == "cheap"


# -- discovery --------------------------------------------------------------------------------------------------
def test_info_stores(multi: Multi) -> None:
    response = multi.client.get("/v2/info/stores", headers=ALICE)
    assert response.status_code == 200
    assert response.json() == {
        "stores": [
            {"id": "fast", "description": "Quick but dear", "default": "true"},
            {"id": "cheap", "description": "Slow but cheap"},
        ]
    }


def test_info_stores_default_from_env(multi_env: Multi) -> None:
    stores = multi_env.client.get("/v2/info/stores").json()["stores"]
    assert [s["id"] for s in stores if s.get("default")] == ["cheap"]


def test_info_stores_detail_for_admin(multi: Multi) -> None:
    response = multi.client.get("/v2/info/stores/detail")
    assert response.status_code == 200
    stores = {store["id"]: store for store in response.json()["stores"]}
    assert set(stores) == {"fast", "cheap"}
    assert stores["fast"]["type"] == "file"
    assert stores["fast"]["weight"] == 100
    assert stores["fast"]["default"] == "true"
    assert stores["cheap"]["weight"] == 10
    assert "default" not in stores["cheap"]
    assert stores["fast"]["description"] == "Quick but dear"
    fast_dir = multi.settings.stores["fast"].options.filesystem_store_datadir
    properties = stores["fast"]["properties"]
    assert set(properties) == {"data_dir", "chunk_size", "thin_provisioning"}  # Glance 33's keys
    assert Path(str(properties["data_dir"])) == Path(fast_dir).resolve()
    assert properties["thin_provisioning"] is False


def test_info_stores_detail_is_403_for_non_admin(multi: Multi) -> None:
    response = multi.client.get("/v2/info/stores/detail", headers=ALICE)
    assert response.status_code == 403
    assert response.text == plain_error(
        "403 Forbidden", "You are not authorized to complete stores_info_detail action."
    )


def test_info_stores_detail_for_a_service(multi: Multi) -> None:
    service = {"X-User-Id": "nova", "X-Project-Id": "service", "X-Roles": "service"}
    assert multi.client.get("/v2/info/stores/detail", headers=service).status_code == 200


def test_create_announces_store_ids(multi: Multi) -> None:
    response = multi.client.post("/v2/images", json={})
    assert response.headers["openstack-image-store-ids"] == "fast,cheap"


# -- upload to a store ------------------------------------------------------------------------------------------
def test_upload_goes_to_the_default_store(multi: Multi) -> None:
    image_id = create(multi.client)
    assert upload(multi.client, image_id, b"default").status_code == 204
    assert multi.client.get(f"/v2/images/{image_id}").json()["stores"] == "fast"
    assert [p.name for p in store_files(multi.settings, "fast")] == [image_id]
    assert store_files(multi.settings, "cheap") == []


def test_upload_to_a_named_store(multi: Multi) -> None:
    image_id = create(multi.client)
    assert upload(multi.client, image_id, b"cheap data", "cheap").status_code == 204
    assert multi.client.get(f"/v2/images/{image_id}").json()["stores"] == "cheap"
    assert store_files(multi.settings, "fast") == []
    assert [p.read_bytes() for p in store_files(multi.settings, "cheap")] == [b"cheap data"]
    assert multi.client.get(f"/v2/images/{image_id}/file").content == b"cheap data"


def test_upload_to_the_env_default_store(multi_env: Multi) -> None:
    image_id = create(multi_env.client)
    assert upload(multi_env.client, image_id, b"x").status_code == 204
    assert multi_env.client.get(f"/v2/images/{image_id}").json()["stores"] == "cheap"


def test_upload_to_an_unknown_store_is_400(multi: Multi) -> None:
    image_id = create(multi.client)
    response = upload(multi.client, image_id, b"data", "nowhere")
    assert response.status_code == 400
    assert response.text == plain_error("400 Bad Request", "Store for identifier nowhere not found")
    assert multi.client.get(f"/v2/images/{image_id}").json()["status"] == "queued"
    assert store_files(multi.settings, "fast") == store_files(multi.settings, "cheap") == []


# -- several copies ---------------------------------------------------------------------------------------------
def test_stores_property_lists_every_copy(multi: Multi) -> None:
    image_id = create(multi.client)
    assert upload(multi.client, image_id, b"twice", "cheap").status_code == 204
    copy_to(multi, image_id, "fast", b"twice")
    assert multi.client.get(f"/v2/images/{image_id}").json()["stores"] == "cheap,fast"


def test_download_prefers_the_heavier_store_and_falls_back(multi: Multi) -> None:
    image_id = create(multi.client)
    assert upload(multi.client, image_id, b"from cheap", "cheap").status_code == 204
    copy_to(multi, image_id, "fast", b"from fast!")
    assert multi.client.get(f"/v2/images/{image_id}/file").content == b"from fast!"
    for path in store_files(multi.settings, "fast"):
        path.unlink()
    response = multi.client.get(f"/v2/images/{image_id}/file")
    assert response.status_code == 200
    assert response.content == b"from cheap"


def test_delete_from_store(multi: Multi) -> None:
    image_id = create(multi.client)
    assert upload(multi.client, image_id, b"copied").status_code == 204
    copy_to(multi, image_id, "cheap", b"copied")
    response = multi.client.delete(f"/v2/stores/fast/{image_id}")
    assert response.status_code == 204
    assert response.content == b""
    shown = multi.client.get(f"/v2/images/{image_id}").json()
    assert shown["stores"] == "cheap"
    assert shown["status"] == "active"
    assert store_files(multi.settings, "fast") == []
    assert len(store_files(multi.settings, "cheap")) == 1
    assert multi.client.get(f"/v2/images/{image_id}/file").content == b"copied"
    # the remaining copy is the last one
    last = multi.client.delete(f"/v2/stores/cheap/{image_id}")
    assert last.status_code == 409
    assert last.text == plain_error("409 Conflict", "Cannot delete image data from the only store containing it: cheap")


def test_delete_last_copy_is_409(multi: Multi) -> None:
    image_id = create(multi.client)
    assert upload(multi.client, image_id, b"only").status_code == 204
    response = multi.client.delete(f"/v2/stores/fast/{image_id}")
    assert response.status_code == 409
    assert multi.client.get(f"/v2/images/{image_id}").json()["stores"] == "fast"
    assert len(store_files(multi.settings, "fast")) == 1


def test_delete_from_unknown_store_is_409(multi: Multi) -> None:
    image_id = create(multi.client)
    assert upload(multi.client, image_id, b"data").status_code == 204
    response = multi.client.delete(f"/v2/stores/nowhere/{image_id}")
    assert response.status_code == 409  # as Glance
    assert response.text == plain_error("409 Conflict", "The selected store nowhere is not available on this node.")


def test_delete_from_a_store_without_the_image_is_404(multi: Multi) -> None:
    image_id = create(multi.client)
    assert upload(multi.client, image_id, b"data").status_code == 204
    response = multi.client.delete(f"/v2/stores/cheap/{image_id}")
    assert response.status_code == 404
    assert response.text == plain_error("404 Not Found", f"Image {image_id} is not present in store cheap")


def test_delete_from_store_of_unknown_image_is_404(multi: Multi) -> None:
    response = multi.client.delete("/v2/stores/fast/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404


def test_delete_from_store_of_inactive_image_is_409(multi: Multi) -> None:
    image_id = create(multi.client)
    assert multi.client.delete(f"/v2/stores/fast/{image_id}").status_code == 409


def test_delete_from_store_needs_admin(multi: Multi) -> None:
    image_id = create(multi.client, ALICE)
    assert upload(multi.client, image_id, b"data").status_code == 204
    copy_to(multi, image_id, "cheap", b"data")
    for headers in (ALICE, BOB):
        response = multi.client.delete(f"/v2/stores/fast/{image_id}", headers=headers)
        assert response.status_code in (403, 404)
    owner = multi.client.delete(f"/v2/stores/fast/{image_id}", headers=ALICE)
    assert owner.status_code == 403
    assert owner.text == plain_error(
        "403 Forbidden", "You are not authorized to complete delete_image_location action."
    )
    assert multi.client.get(f"/v2/images/{image_id}").json()["stores"] == "fast,cheap"


def test_deleting_the_image_removes_every_copy(multi: Multi) -> None:
    image_id = create(multi.client)
    assert upload(multi.client, image_id, b"data").status_code == 204
    copy_to(multi, image_id, "cheap", b"data")
    assert multi.client.delete(f"/v2/images/{image_id}").status_code == 204
    assert store_files(multi.settings, "fast") == store_files(multi.settings, "cheap") == []


# -- single store -----------------------------------------------------------------------------------------------
def test_single_store_deployment(client: TestClient) -> None:
    assert client.get("/v2/info/stores").json() == {"stores": [{"id": "local", "default": "true"}]}
    image_id = create(client)
    assert upload(client, image_id, b"data", "local").status_code == 204
    assert client.get(f"/v2/images/{image_id}").json()["stores"] == "local"
