"""Blobs: upload, download with their digests, re-upload, folders, caps, external and internal locations, the
blob delete, and the content-addressed storage (one object per sha256, shared with images, reference counted)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from glimpse.container import Services
from glimpse.db.models import ArtifactBlobObjectRow, ArtifactBlobRow, TaskRow
from glimpse.domain.tasks import TaskType
from glimpse.jobs.worker import Worker
from glimpse.services.fsck import Fsck
from glimpse.settings import Settings, load_settings
from tests.functional.artifacts.conftest import ACTIVATE, ADMIN, ALL_TYPES, USER1, USER2, Api
from tests.serverproc import backend

URL = "/artifacts/sample_artifact"
OCTETS = {"content-type": "application/octet-stream"}
LOCATION = {"content-type": "application/vnd+openstack.glare-custom-location+json"}


def put(api: Api, url: str, data: bytes, status: int = 200, user: dict[str, str] = USER1, **headers: str) -> Any:
    return api.call("PUT", url, status, {**user, **OCTETS, **headers}, content=data)


def put_location(api: Api, url: str, body: Any, status: int = 200, user: dict[str, str] = USER1) -> Any:
    return api.call("PUT", url, status, {**user, **LOCATION}, content=json.dumps(body))


def objects(services: Services) -> list[ArtifactBlobObjectRow]:
    return services.db.run_sync(lambda s: list(s.execute(select(ArtifactBlobObjectRow)).scalars()))


def stored_files(services: Services) -> list[str]:
    root = services.stores.default.datadir
    return sorted(p.name for p in root.iterdir() if p.is_file())


def deletion_tasks(services: Services) -> int:
    return services.db.run_sync(
        lambda s: s.execute(
            select(func.count()).where(TaskRow.type == TaskType.ARTIFACT_BLOB_DELETE.value, TaskRow.status == "pending")
        ).scalar_one()
    )


def run_tasks(services: Services) -> None:
    async def drain() -> None:
        worker = Worker.from_services(services)
        while await worker.run_one():
            pass

    anyio.run(drain)


@pytest.fixture
def settings(tmp_path: Any, clean_db: str) -> Settings:
    """As the package's, with no in-process worker: these tests run the blob deletion tasks themselves."""
    return load_settings(
        env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="noauth", enabled_artifact_types=ALL_TYPES,
        worker_in_process=False,
    )  # fmt: skip


@pytest.fixture
def artifact(api: Api) -> str:
    created = api.create({"name": "a", "string_required": "x"})
    return f"{URL}/{created['id']}"


def test_upload_then_download_with_digests_and_headers(api: Api, client: TestClient, artifact: str) -> None:
    data = b"some_arbitrary_testing_data"
    shown = put(api, f"{artifact}/blob", data, **{"content-type": "text/plain"})
    blob = shown["blob"]
    assert blob == {
        "status": "active", "external": False, "size": 27, "content_type": "text/plain",
        "md5": hashlib.md5(data).hexdigest(), "sha1": hashlib.sha1(data).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(), "url": f"{artifact}/blob",
    }  # fmt: skip
    assert api.get(artifact)["blob"] == blob
    response = client.get(f"{artifact}/blob", headers=USER1)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-length"] == "27"
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["content-md5"] == "0825587cc011b7e76381b65e19d5ec27"
    assert response.headers["x-openstack-glare-content-sha1"] == "89eb4b969b721ba8c3aff18ad7d69454f651a697"
    assert response.headers["x-openstack-glare-content-sha256"] == hashlib.sha256(data).hexdigest()


def test_reupload_replaces_data_and_content_type(
    api: Api, client: TestClient, artifact: str, services: Services
) -> None:
    put(api, f"{artifact}/blob", b"first", **{"content-type": "text/plain"})
    shown = put(api, f"{artifact}/blob", b"second!", **{"content-type": "application/x-yaml"})
    assert shown["blob"]["content_type"] == "application/x-yaml"
    assert shown["blob"]["size"] == 7
    response = client.get(f"{artifact}/blob", headers=USER1)
    assert response.content == b"second!"
    assert response.headers["content-type"].startswith("application/x-yaml")
    # the first data has no blob left: its object is gone, its data is deleted by a task
    assert [o.sha256 for o in objects(services)] == [hashlib.sha256(b"second!").hexdigest()]
    assert deletion_tasks(services) == 1
    run_tasks(services)
    assert len(stored_files(services)) == 1


def test_chunked_upload_stores_every_byte(api: Api, client: TestClient, artifact: str) -> None:
    chunks = [b"x" * 70_000, b"y" * 3, b"z" * 100_000]

    def body() -> Any:
        yield from chunks

    shown = api.call("PUT", f"{artifact}/blob", 200, {**USER1, **OCTETS}, content=body())
    assert shown["blob"]["size"] == sum(map(len, chunks))
    assert client.get(f"{artifact}/blob", headers=USER1).content == b"".join(chunks)


def test_caps_413_declared_and_streamed(api: Api, client: TestClient, artifact: str) -> None:
    body = api.call("PUT", f"{artifact}/small_blob", 413, {**USER1, **OCTETS}, content=b"this is too big")
    assert body["error"]["type"] == "RequestEntityTooLarge"

    def chunked() -> Any:
        yield b"0123456"
        yield b"789abc"

    api.call("PUT", f"{artifact}/small_blob", 413, {**USER1, **OCTETS}, content=chunked())
    # a failed upload leaves nothing: no blob, no object
    assert api.get(artifact)["small_blob"] is None
    put(api, f"{artifact}/small_blob", b"ok")


@contextlib.contextmanager
def own_server(tmp_path: Any, clean_db: str, **options: Any) -> Iterator[tuple[Api, Services]]:
    """An artifacts app of its own (sample_artifact only) with these settings."""
    from glimpse.app import create_artifacts_app
    from glimpse.container import build_services

    settings = load_settings(
        env={}, data_dir=tmp_path / "d", database_url=clean_db, auth="noauth",
        enabled_artifact_types=["sample_artifact"], **options,
    )  # fmt: skip
    services = build_services(settings)
    try:
        with TestClient(create_artifacts_app(settings, services)) as client:
            yield Api(client), services
    finally:
        services.close()


def test_max_blob_size_option_caps_every_field(tmp_path: Any, clean_db: str) -> None:
    with own_server(tmp_path, clean_db, max_blob_size=5) as (api, _):
        url = f"{URL}/{api.create({'name': 'a'})['id']}"
        put(api, f"{url}/blob", b"123456", status=413)
        put(api, f"{url}/blob", b"12345")


def test_folder_blobs(api: Api, client: TestClient, artifact: str) -> None:
    key = "k" * 900  # Glare's own tests use 900 characters
    shown = put(api, f"{artifact}/dict_of_blobs/{key}", b"data" * 100)
    assert shown["dict_of_blobs"][key]["url"] == f"{artifact}/dict_of_blobs/{key}"
    put(api, f"{artifact}/dict_of_blobs/other", b"x")
    assert client.get(f"{artifact}/dict_of_blobs/{key}", headers=USER1).content == b"data" * 100
    assert set(api.get(artifact)["dict_of_blobs"]) == {key, "other"}
    api.get(f"{artifact}/dict_of_blobs/missing", status=404)
    put(api, f"{artifact}/dict_of_blobs/{'k' * 2049}", b"x", status=400)
    put(api, f"{artifact}/dict_of_blobs/ct", b"x", **{"content-type": "a/" + "b" * 300}, status=400)


def test_wrong_fields_and_artifacts(api: Api, artifact: str) -> None:
    put(api, f"{artifact}/blob_non_exist", b"x", status=400)
    put(api, f"{artifact}/int1", b"x", status=400)
    put(api, f"{artifact}/blob/key", b"x", status=400)  # a plain blob has no keys
    api.get(f"{artifact}/not_a_blob", status=400)
    api.get(f"{artifact}/not_a_dict/not_a_blob", status=400)
    api.get(f"{artifact}/blob", status=404)  # nothing uploaded
    api.get(f"{artifact}1/blob", status=404)
    api.call("PUT", f"{artifact}/blob", 400, USER1, content=b"x")  # no content type
    put(api, f"{URL.replace('sample_artifact', 'all')}/{artifact.rsplit('/', 1)[1]}/blob", b"x", status=403)


def test_other_projects_and_admin(api: Api, client: TestClient, artifact: str) -> None:
    put(api, f"{artifact}/blob", b"mine", user=USER2, status=404)
    put(api, f"{artifact}/blob", b"mine")
    api.get(f"{artifact}/blob", user=USER2, status=404)
    assert client.get(f"{artifact}/blob", headers=ADMIN).content == b"mine"


def test_upload_after_activation_only_to_mutable_fields(api: Api, artifact: str) -> None:
    put(api, f"{artifact}/blob", b"x")
    api.patch(artifact, ACTIVATE)
    put(api, f"{artifact}/dict_of_blobs/key2", b"x", status=403)


def test_external_location_redirects_and_delete(api: Api, client: TestClient, artifact: str) -> None:
    body = {"url": "https://example.com/data.bin", "md5": "fake", "sha1": "fake_sha", "sha256": "fake_sha256"}
    shown = put_location(api, f"{artifact}/blob", body)
    assert shown["blob"] == {
        "status": "active", "external": True, "size": None, "content_type": None, "md5": "fake",
        "sha1": "fake_sha", "sha256": "fake_sha256", "url": "https://example.com/data.bin",
    }  # fmt: skip
    put_location(api, f"{artifact}/blob", body, status=409)
    response = client.get(f"{artifact}/blob", headers=USER1, follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == "https://example.com/data.bin"
    assert response.headers["content-md5"] == "fake"
    # the blob delete (API 1.1; Glare's version gate never refused 1.0 either)
    shown = api.call("DELETE", f"{artifact}/blob", 200, {**USER1, "OpenStack-API-Version": "artifact 1.1"})
    assert shown["blob"] is None
    api.call("DELETE", f"{artifact}/blob", 404, USER1)
    api.call("DELETE", f"{artifact}/int1", 400, USER1)
    put(api, f"{artifact}/blob", b"internal")
    api.call("DELETE", f"{artifact}/blob", 403, USER1)  # uploaded data is not external
    put_location(api, f"{artifact}/dict_of_blobs/ext", body)
    assert api.call("DELETE", f"{artifact}/dict_of_blobs/ext", 200, USER1)["dict_of_blobs"] == {}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"url": "ftp://example.com/x", "md5": "m"}, 400),
        ({"url": "https://example.com/x"}, 400),  # no md5
        ({"md5": "m"}, 400),
        ({"url": "https://example.com:8443/x", "md5": "m"}, 400),  # a port the fetch guard does not allow
        ({"url": "https://example.com/x", "md5": "m" * 33}, 400),
        ({"url": "https://example.com/x", "md5": "m", "location_type": "elsewhere"}, 400),
        ([1, 2], 400),
    ],
)
def test_bad_locations(api: Api, artifact: str, body: Any, status: int) -> None:
    put_location(api, f"{artifact}/blob", body, status=status)


def test_internal_location_admin_only_and_never_file(api: Api, artifact: str) -> None:
    body = {"md5": "m", "location_type": "internal", "url": "https://example.com/x"}
    put_location(api, f"{artifact}/blob", body, status=403)  # not an admin
    for scheme in ("file", "filesystem", "swift+config", "sql"):
        put_location(api, f"{artifact}/blob", {**body, "url": f"{scheme}://x/y"}, status=403, user=ADMIN)
    put_location(api, f"{artifact}/blob", {**body, "url": "unknown://x"}, status=400, user=ADMIN)
    shown = put_location(api, f"{artifact}/blob", body, user=ADMIN)
    assert shown["blob"]["external"] is False
    assert shown["blob"]["url"] == f"{artifact}/blob"  # never the location itself


def test_same_bytes_stored_once_and_removed_with_the_last_reference(api: Api, services: Services) -> None:
    first = f"{URL}/{api.create({'name': 'one'})['id']}"
    second = f"{URL}/{api.create({'name': 'two'})['id']}"
    put(api, f"{first}/blob", b"shared bytes")
    put(api, f"{second}/blob", b"shared bytes")
    put(api, f"{second}/dict_of_blobs/k", b"shared bytes")
    assert len(objects(services)) == 1
    assert len(stored_files(services)) == 1
    api.delete(first)
    assert len(objects(services)) == 1
    assert deletion_tasks(services) == 0
    api.delete(second)
    assert objects(services) == []
    assert deletion_tasks(services) == 1
    run_tasks(services)
    assert stored_files(services) == []


def test_blob_shares_an_images_data_which_outlives_the_image(
    api: Api, client: TestClient, services: Services, settings: Any
) -> None:
    from glimpse.app import create_app

    data = b"\0" * 4096 + b"disk image bytes"
    images = TestClient(create_app(settings, services))
    headers = {"X-Identity-Status": "Confirmed", "X-User-Id": "u1", "X-Project-Id": "p1", "X-Roles": "member"}
    image = images.post(
        "/v2/images", headers=headers, json={"name": "img", "disk_format": "raw", "container_format": "bare"}
    ).json()
    upload = images.put(f"/v2/images/{image['id']}/file", headers={**headers, **OCTETS}, content=data)
    assert upload.status_code == 204, upload.text
    assert stored_files(services) == [image["id"]]
    art = f"/artifacts/images/{api.create({'name': 'img'}, kind='images')['id']}"
    put(api, f"{art}/image", data)
    assert stored_files(services) == [image["id"]]  # stored once: the blob names the image's data
    assert images.delete(f"/v2/images/{image['id']}", headers=headers).status_code == 204
    assert stored_files(services) == [image["id"]]  # kept: the blob still holds it
    assert client.get(f"{art}/image", headers=USER1).content == data
    api.delete(art)
    run_tasks(services)
    assert stored_files(services) == []


def test_blob_dropped_while_its_image_lives_keeps_the_image_data(api: Api, services: Services, settings: Any) -> None:
    from glimpse.app import create_app

    data = b"image data shared then released"
    images = TestClient(create_app(settings, services))
    headers = {"X-Identity-Status": "Confirmed", "X-User-Id": "u1", "X-Project-Id": "p1", "X-Roles": "member"}
    image = images.post(
        "/v2/images", headers=headers, json={"name": "img", "disk_format": "raw", "container_format": "bare"}
    ).json()
    images.put(f"/v2/images/{image['id']}/file", headers={**headers, **OCTETS}, content=data)
    art = f"/artifacts/images/{api.create({'name': 'img'}, kind='images')['id']}"
    put(api, f"{art}/image", data)
    api.delete(art)
    assert deletion_tasks(services) == 0  # the image still keeps its data there
    assert images.get(f"/v2/images/{image['id']}/file", headers=headers).content == data


def test_deleting_an_artifact_while_uploading_is_refused(api: Api, services: Services, artifact: str) -> None:
    from glimpse.db.repositories.artifacts import ArtifactRepository

    artifact_id = artifact.rsplit("/", 1)[1]
    services.db.run_sync(
        lambda s: ArtifactRepository(s).set_blob(
            artifact_id, "blob", "", {"status": "saving", "external": False, "content_type": "x"}
        )
    )
    api.delete(artifact, status=409)
    put(api, f"{artifact}/blob", b"x", status=409)
    api.get(f"{artifact}/blob", status=409)


def test_the_artifacts_servers_worker_deletes_unreferenced_data(tmp_path: Any, clean_db: str) -> None:
    with own_server(tmp_path, clean_db, task_heartbeat_interval=0.2) as (api, services):
        url = f"{URL}/{api.create({'name': 'a'})['id']}"
        put(api, f"{url}/blob", b"to be deleted")
        assert len(stored_files(services)) == 1
        api.delete(url)
        deadline = time.monotonic() + 60  # the worker polls every 0.2 s; generous for a loaded machine
        while stored_files(services) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert stored_files(services) == []


def test_recovery_settles_interrupted_uploads_and_removes_their_bytes(api: Api, services: Services) -> None:
    from glimpse.db.repositories.artifacts import ArtifactRepository

    first = api.create({"name": "first"})["id"]
    again = api.create({"name": "again"})["id"]
    put(api, f"{URL}/{again}/blob", b"kept")
    saving = {"status": "saving", "external": False, "content_type": "x"}
    services.db.run_sync(lambda s: ArtifactRepository(s).set_blob(first, "blob", "", saving))
    services.db.run_sync(
        lambda s: s.execute(update(ArtifactBlobRow).where(ArtifactBlobRow.artifact_id == again).values(status="saving"))
    )
    datadir = services.stores.default.datadir
    (datadir / "artifact-00000000-0000-0000-0000-000000000000").write_bytes(b"written, never committed")
    report = anyio.run(Fsck(services.db, services.stores).recover)
    assert any(f.repaired for f in report.findings)
    assert api.get(f"{URL}/{first}")["blob"] is None
    assert api.get(f"{URL}/{again}")["blob"]["status"] == "active"
    assert len(stored_files(services)) == 1  # the committed blob's data only
    assert api.client.get(f"{URL}/{again}/blob", headers=USER1).content == b"kept"


def test_a_commit_whose_outcome_was_hidden_keeps_its_bytes(
    api: Api, client: TestClient, services: Services, artifact: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database fails as the upload's final transaction commits (it did commit): the bytes stay."""
    from glimpse.errors import DatabaseUnavailable

    real = services.db.run
    calls = {"count": 0}

    async def flaky(work: Any, **kwargs: Any) -> Any:
        result = await real(work, **kwargs)
        calls["count"] += 1
        if calls["count"] == 2:  # begin, then the commit of the blob: committed, but the answer is lost
            raise DatabaseUnavailable("connection lost during commit")
        return result

    flaky_db = type("Flaky", (), {"run": staticmethod(flaky), "writers": services.db.writers})()
    monkeypatch.setattr(services.artifact_blobs, "db", flaky_db)
    put(api, f"{artifact}/blob", b"committed after all", status=503)
    monkeypatch.undo()
    assert api.get(artifact)["blob"]["status"] == "active"
    assert client.get(f"{artifact}/blob", headers=USER1).content == b"committed after all"


@pytest.mark.skipif(backend() != "postgresql", reason="writer locks are PostgreSQL advisory locks")
def test_recovery_leaves_a_blob_upload_another_node_is_running(api: Api, services: Services) -> None:
    """Another node uploads a blob right now (its process holds the blob's writer lock and its object's): a
    start-up recovery here neither puts the blob back nor removes its bytes; once that writer is gone (its
    process died: its connection and locks with it), the same recovery settles both."""
    from glimpse.db import Database
    from glimpse.db.repositories.artifacts import ArtifactRepository
    from glimpse.db.writers import blob_writer

    artifact_id = api.create({"name": "uploading elsewhere"})["id"]
    saving = {"status": "saving", "external": False, "content_type": "x"}
    services.db.run_sync(lambda s: ArtifactRepository(s).set_blob(artifact_id, "blob", "", saving))
    key_in_store = "artifact-00000000-0000-0000-0000-00000000000b"
    written = services.stores.default.datadir / key_in_store
    written.write_bytes(b"being written on another node")
    other_node = Database(services.db.url)

    async def while_uploading() -> Any:
        writers = other_node.writers
        async with writers.holding(blob_writer(artifact_id, "blob", "")), writers.holding(key_in_store):
            return await Fsck(services.db, services.stores).recover()

    try:
        report = anyio.run(while_uploading)
    finally:
        other_node.dispose()
    assert [(f.kind.value, f.repaired) for f in report.findings] == [("in_progress", False)]
    assert api.get(f"{URL}/{artifact_id}")["blob"]["status"] == "saving"
    assert written.exists()
    report = anyio.run(Fsck(services.db, services.stores).recover)
    assert [(f.kind.value, f.repaired) for f in report.findings] == [("orphan", True)]
    assert api.get(f"{URL}/{artifact_id}")["blob"] is None
    assert not written.exists()
