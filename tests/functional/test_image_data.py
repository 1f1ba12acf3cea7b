"""/v2/images/{id}/file: upload, download, ranges, size limits and what a failed upload leaves behind."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from glimpse.container import Services, build_services
from glimpse.context import RequestContext
from glimpse.db.models import ImageRow
from glimpse.errors import ClientDisconnected
from glimpse.settings import Settings, load_settings
from tests.conftest import make_client
from tests.functional.conftest import ALICE, BOB, CAROL_READER, JSON_ACCEPT, OCTET, plain_error, store_files

MakeImage = Callable[..., dict[str, Any]]
DATA = bytes(range(256)) * 40  # 10240 bytes

ADMIN_CTX = RequestContext(user_id="admin", project_id="admin", roles=frozenset({"admin", "member", "reader"}))


def put(client: TestClient, image_id: str, data: Any, headers: dict[str, str] | None = None) -> Any:
    return client.put(f"/v2/images/{image_id}/file", content=data, headers={**OCTET, **(headers or {})})


def status_of(client: TestClient, image_id: str) -> str:
    status: str = client.get(f"/v2/images/{image_id}").json()["status"]
    return status


def no_leftovers(settings: Settings, store: str | None = None) -> None:
    assert store_files(settings, store) == [], "the store directory should be empty"


# -- upload --------------------------------------------------------------------------------------------------
def test_upload_sets_size_and_hashes(client: TestClient, settings: Settings, make_image: MakeImage) -> None:
    image = make_image(ALICE)
    response = put(client, image["id"], DATA, ALICE)
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers.get("x-openstack-request-id")
    shown = client.get(f"/v2/images/{image['id']}", headers=ALICE).json()
    assert shown["status"] == "active"
    assert shown["size"] == len(DATA)
    assert shown["checksum"] == hashlib.md5(DATA).hexdigest()
    assert shown["os_hash_algo"] == "sha512"
    assert shown["os_hash_value"] == hashlib.sha512(DATA).hexdigest()
    assert shown["stores"] == "local"
    assert shown["updated_at"] >= image["updated_at"]
    files = store_files(settings)
    assert [f.name for f in files] == [image["id"]]
    assert files[0].read_bytes() == DATA


def test_upload_with_declared_size(client: TestClient, make_image: MakeImage) -> None:
    image = make_image()
    response = put(client, image["id"], DATA, {"x-openstack-image-size": str(len(DATA))})
    assert response.status_code == 204
    assert client.get(f"/v2/images/{image['id']}").json()["size"] == len(DATA)


def test_upload_streamed_in_uneven_chunks(client: TestClient, make_image: MakeImage) -> None:
    image = make_image()
    payload = bytes(range(251)) * 1000

    def chunks() -> Iterator[bytes]:
        step = 1
        position = 0
        while position < len(payload):
            yield payload[position : position + step]
            position += step
            step = step * 3 % 9973 + 1

    assert put(client, image["id"], chunks()).status_code == 204
    shown = client.get(f"/v2/images/{image['id']}").json()
    assert shown["size"] == len(payload)
    assert shown["checksum"] == hashlib.md5(payload).hexdigest()
    assert client.get(f"/v2/images/{image['id']}/file").content == payload


@pytest.fixture
def small_blocks_client(tmp_path: Path, clean_db: str) -> Iterator[tuple[TestClient, Settings]]:
    settings = load_settings(
        env={"GLIMPSE_HASHING_ALGORITHM": "sha256"},
        data_dir=tmp_path / "data",
        database_url=clean_db,
        auth="noauth",
        upload_block_size=1000,
        download_chunk_size=777,
    )
    services = build_services(settings)
    try:
        with make_client(settings, services) as test_client:
            yield test_client, settings
    finally:
        services.close()


def test_many_blocks_and_configured_hash(small_blocks_client: tuple[TestClient, Settings]) -> None:
    client, _ = small_blocks_client
    image = client.post("/v2/images", json={"disk_format": "raw", "container_format": "bare"}).json()
    assert put(client, image["id"], DATA).status_code == 204
    shown = client.get(f"/v2/images/{image['id']}").json()
    assert shown["os_hash_algo"] == "sha256"
    assert shown["os_hash_value"] == hashlib.sha256(DATA).hexdigest()
    assert shown["checksum"] == hashlib.md5(DATA).hexdigest()
    assert client.get(f"/v2/images/{image['id']}/file").content == DATA
    partial = client.get(f"/v2/images/{image['id']}/file", headers={"range": "bytes=700-2500"})
    assert partial.status_code == 206
    assert partial.content == DATA[700:2501]


def test_upload_needs_formats(client: TestClient, settings: Settings) -> None:
    for body in ({}, {"disk_format": "raw"}, {"container_format": "bare"}):
        image = client.post("/v2/images", json=body).json()
        response = put(client, image["id"], b"data")
        assert response.status_code == 400
        assert response.text == plain_error(
            "400 Bad Request", "Properties disk_format, container_format must be set prior to saving data."
        )
        assert status_of(client, image["id"]) == "queued"
    no_leftovers(settings)


def test_upload_to_active_image_is_409(client: TestClient, settings: Settings, make_image: MakeImage) -> None:
    image = make_image()
    assert put(client, image["id"], b"first").status_code == 204
    response = put(client, image["id"], b"second")
    assert response.status_code == 409
    assert response.text == plain_error("409 Conflict", "Image status transition from active to saving is not allowed")
    assert client.get(f"/v2/images/{image['id']}/file").content == b"first"
    assert len(store_files(settings)) == 1


def test_upload_to_saving_image_is_409(client: TestClient, services: Services, make_image: MakeImage) -> None:
    image = make_image()
    services.db.run_sync(
        lambda s: s.execute(sa.update(ImageRow).where(ImageRow.id == image["id"]).values(status="saving"))
    )
    response = put(client, image["id"], b"data")
    assert response.status_code == 409
    assert status_of(client, image["id"]) == "saving"


def test_upload_to_unknown_image_is_404(client: TestClient) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    response = put(client, missing, b"data")
    assert response.status_code == 404
    assert response.text == plain_error("404 Not Found", f"No image found with ID {missing}")


def test_upload_needs_the_owner(client: TestClient, settings: Settings, make_image: MakeImage) -> None:
    image = make_image(ALICE, visibility="community")
    response = put(client, image["id"], b"data", BOB)
    assert response.status_code == 403
    assert response.text == plain_error("403 Forbidden", "You are not authorized to complete upload_image action.")
    assert put(client, image["id"], b"data", CAROL_READER).status_code == 403
    assert status_of(client, image["id"]) == "queued"
    no_leftovers(settings)


def test_declared_size_not_an_integer_is_400(client: TestClient, make_image: MakeImage) -> None:
    image = make_image()
    for value in ("ten", "-1"):
        response = put(client, image["id"], b"data", {"x-openstack-image-size": value})
        assert response.status_code == 400, value
    assert status_of(client, image["id"]) == "queued"


@pytest.mark.parametrize("declared", [len(DATA) - 1, len(DATA) + 1, 1])
def test_declared_size_mismatch_is_400_and_requeues(
    client: TestClient, settings: Settings, make_image: MakeImage, declared: int
) -> None:
    image = make_image()
    response = put(client, image["id"], DATA, {"x-openstack-image-size": str(declared), **JSON_ACCEPT})
    assert response.status_code == 400
    assert response.json()["code"] == "400 Bad Request"
    assert "x-openstack-image-size" in response.json()["message"]
    shown = client.get(f"/v2/images/{image['id']}").json()
    assert shown["status"] == "queued"
    assert shown["size"] is None
    assert shown["checksum"] is None
    assert "stores" not in shown
    no_leftovers(settings)
    # the client may try again
    assert put(client, image["id"], DATA).status_code == 204
    assert status_of(client, image["id"]) == "active"


# -- size cap ------------------------------------------------------------------------------------------------
@pytest.fixture
def capped(tmp_path: Path, clean_db: str) -> Iterator[tuple[TestClient, Settings]]:
    settings = load_settings(
        env={"GLIMPSE_IMAGE_SIZE_CAP": "100"}, data_dir=tmp_path / "data", database_url=clean_db, auth="noauth"
    )
    assert settings.image_size_cap == 100
    services = build_services(settings)
    try:
        with make_client(settings, services) as test_client:
            yield test_client, settings
    finally:
        services.close()


def _new_image(client: TestClient) -> str:
    response = client.post("/v2/images", json={"disk_format": "raw", "container_format": "bare"})
    assert response.status_code == 201
    image_id: str = response.json()["id"]
    return image_id


def test_declared_size_over_cap_is_413(capped: tuple[TestClient, Settings]) -> None:
    client, settings = capped
    image_id = _new_image(client)
    response = put(client, image_id, b"x" * 101, {"x-openstack-image-size": "101"})
    assert response.status_code == 413
    assert response.text.startswith("413 Request Entity Too Large\n\n")
    assert "100" in response.text
    assert status_of(client, image_id) == "queued"
    no_leftovers(settings)


def test_streamed_size_over_cap_is_413(capped: tuple[TestClient, Settings]) -> None:
    client, settings = capped
    image_id = _new_image(client)
    response = put(client, image_id, b"x" * 101, JSON_ACCEPT)
    assert response.status_code == 413
    assert response.json()["code"] == "413 Request Entity Too Large"
    assert status_of(client, image_id) == "queued"
    no_leftovers(settings)

    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"y" * 30

    response = put(client, image_id, chunks())
    assert response.status_code == 413
    assert status_of(client, image_id) == "queued"
    no_leftovers(settings)


def test_upload_at_cap_is_accepted(capped: tuple[TestClient, Settings]) -> None:
    client, settings = capped
    image_id = _new_image(client)
    assert put(client, image_id, b"z" * 100, {"x-openstack-image-size": "100"}).status_code == 204
    assert client.get(f"/v2/images/{image_id}").json()["size"] == 100
    assert len(store_files(settings)) == 1


# -- a client stream that fails mid-way ----------------------------------------------------------------------
@pytest.mark.parametrize("failure", [ClientDisconnected("client went away"), RuntimeError("boom")])
def test_failing_source_leaves_nothing_behind(
    client: TestClient, services: Services, settings: Settings, make_image: MakeImage, failure: Exception
) -> None:
    image = make_image()
    sent: list[int] = []

    async def source() -> AsyncIterator[bytes]:
        for _ in range(3):
            sent.append(1)
            yield b"a" * 3_000_000
        raise failure

    async def run() -> None:
        await services.image_data.upload(ADMIN_CTX, image["id"], source(), declared_size=None, store_id=None)

    with pytest.raises(type(failure)):
        asyncio.run(run())
    assert len(sent) == 3
    assert status_of(client, image["id"]) == "queued"
    no_leftovers(settings)
    datadir = Path(settings.stores["local"].options.filesystem_store_datadir)
    assert list(datadir.glob("*.partial")) == []
    # and a retry succeeds
    assert put(client, image["id"], b"retry").status_code == 204
    assert client.get(f"/v2/images/{image['id']}/file").content == b"retry"


def test_failing_source_over_http(client: TestClient, settings: Settings, make_image: MakeImage) -> None:
    image = make_image()

    def chunks() -> Iterator[bytes]:
        yield b"a" * 1_000_000
        yield b"b" * 1_000_000
        raise RuntimeError("the client broke off")

    # the TestClient feeds the request body to the app, so the app sees the error mid-stream
    with pytest.raises(RuntimeError, match="broke off"):
        put(client, image["id"], chunks())
    assert status_of(client, image["id"]) == "queued"
    no_leftovers(settings)


# -- download ------------------------------------------------------------------------------------------------
def test_download(client: TestClient, active_image: MakeImage) -> None:
    image = active_image(DATA)
    response = client.get(f"/v2/images/{image['id']}/file")
    assert response.status_code == 200
    assert response.content == DATA
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-length"] == str(len(DATA))
    assert response.headers["content-md5"] == hashlib.md5(DATA).hexdigest()
    assert response.headers.get("x-openstack-request-id")


def test_download_without_data_is_204(client: TestClient, make_image: MakeImage) -> None:
    image = make_image()
    response = client.get(f"/v2/images/{image['id']}/file")
    assert response.status_code == 204
    assert response.content == b""


def test_download_unknown_image_is_404(client: TestClient) -> None:
    response = client.get("/v2/images/00000000-0000-0000-0000-000000000000/file")
    assert response.status_code == 404


def test_download_needs_member_role(client: TestClient, active_image: MakeImage) -> None:
    image = active_image(DATA, ALICE)
    response = client.get(f"/v2/images/{image['id']}/file", headers=CAROL_READER)
    assert response.status_code == 403
    assert response.text == plain_error("403 Forbidden", "You are not authorized to complete download_image action.")
    assert client.get(f"/v2/images/{image['id']}/file", headers=ALICE).content == DATA


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=2-5", 2, 5),
        ("bytes=100-", 100, len(DATA) - 1),
        ("bytes=-10", len(DATA) - 10, len(DATA) - 1),
        ("bytes=10000-99999", 10000, len(DATA) - 1),
        ("bytes=-99999", 0, len(DATA) - 1),
        (f"bytes=0-{len(DATA) - 1}", 0, len(DATA) - 1),
    ],
)
def test_range_download(client: TestClient, active_image: MakeImage, header: str, start: int, end: int) -> None:
    image = active_image(DATA)
    response = client.get(f"/v2/images/{image['id']}/file", headers={"range": header})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end}/{len(DATA)}"
    assert response.headers["content-length"] == str(end - start + 1)
    assert response.content == DATA[start : end + 1]


@pytest.mark.parametrize(
    "header", [f"bytes={len(DATA)}-", f"bytes={len(DATA) + 5}-{len(DATA) + 10}", "bytes=5-2", "bytes=-0"]
)
def test_unsatisfiable_range_is_416(client: TestClient, active_image: MakeImage, header: str) -> None:
    image = active_image(DATA)
    response = client.get(f"/v2/images/{image['id']}/file", headers={"range": header})
    assert response.status_code == 416
    assert "content-range" not in response.headers  # as Glance (webob's 416 has none)
    assert response.text.startswith("416 Requested Range Not Satisfiable\n\n")
    assert response.headers.get("x-openstack-request-id")


@pytest.mark.parametrize("header", ["items=0-5", "bytes=a-b", "bytes"])
def test_malformed_range_is_416(client: TestClient, active_image: MakeImage, header: str) -> None:
    image = active_image(DATA)
    response = client.get(f"/v2/images/{image['id']}/file", headers={"range": header})
    assert response.status_code == 416
    assert "content-range" not in response.headers


def test_several_ranges_are_400(client: TestClient, active_image: MakeImage) -> None:
    image = active_image(DATA)
    response = client.get(f"/v2/images/{image['id']}/file", headers={"range": "bytes=0-1,4-5"})
    assert response.status_code == 400
    assert response.text == plain_error(
        "400 Bad Request",
        "Requests with multiple ranges are not supported in Glance. You may make multiple single-range requests "
        "instead.",
    )
    hidden = client.get(f"/v2/images/{image['id']}/file", headers={**BOB, "range": "bytes=0-1,4-5"})
    assert hidden.status_code == 404  # the image first, as Glance


def test_ranged_download_has_the_whole_images_md5(client: TestClient, active_image: MakeImage) -> None:
    image = active_image(DATA)
    response = client.get(f"/v2/images/{image['id']}/file", headers={"range": "bytes=2-5"})
    assert response.status_code == 206
    assert response.headers["content-md5"] == hashlib.md5(DATA).hexdigest()
    assert response.content == DATA[2:6]


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes 2-5/*", 2, 5), (f"bytes 0-9/{len(DATA)}", 0, 9), ("bytes 100-99999/*", 100, len(DATA) - 1)],
)
def test_legacy_content_range_request_header(
    client: TestClient, active_image: MakeImage, header: str, start: int, end: int
) -> None:
    """Glance still reads a request's Content-Range as the bytes wanted when there is no Range."""
    image = active_image(DATA)
    response = client.get(f"/v2/images/{image['id']}/file", headers={"content-range": header})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end}/{len(DATA)}"
    assert response.content == DATA[start : end + 1]
    both = client.get(f"/v2/images/{image['id']}/file", headers={"content-range": header, "range": "bytes=0-0"})
    assert both.content == DATA[:1]  # Range wins


@pytest.mark.parametrize("header", ["bytes 5-2/*", "bytes */10", "items 0-1/*", f"bytes {len(DATA)}-{len(DATA) + 1}/*"])
def test_bad_legacy_content_range_is_416(client: TestClient, active_image: MakeImage, header: str) -> None:
    image = active_image(DATA)
    response = client.get(f"/v2/images/{image['id']}/file", headers={"content-range": header})
    assert response.status_code == 416


def test_chunked_upload(client: TestClient, make_image: MakeImage) -> None:
    """Transfer-Encoding: chunked, no Content-Length (how glanceclient streams a pipe)."""
    image = make_image(ALICE)

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(DATA), 3001):
            yield DATA[start : start + 3001]

    response = client.put(f"/v2/images/{image['id']}/file", content=pieces(), headers={**ALICE, **OCTET})
    assert response.status_code == 204, response.text
    shown = client.get(f"/v2/images/{image['id']}", headers=ALICE).json()
    assert (shown["status"], shown["size"], shown["checksum"]) == ("active", len(DATA), hashlib.md5(DATA).hexdigest())
    assert client.get(f"/v2/images/{image['id']}/file", headers=ALICE).content == DATA


def test_upload_ignores_a_content_range(client: TestClient, make_image: MakeImage) -> None:
    image = make_image(ALICE)
    headers = {**ALICE, **OCTET, "content-range": "bytes 100-199/*"}
    assert client.put(f"/v2/images/{image['id']}/file", content=DATA, headers=headers).status_code == 204
    assert client.get(f"/v2/images/{image['id']}/file", headers=ALICE).content == DATA


def test_download_after_data_vanished_is_204(client: TestClient, settings: Settings, active_image: MakeImage) -> None:
    image = active_image(DATA)
    for path in store_files(settings):
        path.unlink()
    response = client.get(f"/v2/images/{image['id']}/file")
    assert response.headers.get("x-openstack-request-id")
    assert response.status_code == 204


def test_image_members_may_download(client: TestClient, active_image: MakeImage) -> None:
    image = active_image(DATA, ALICE, visibility="shared")
    path = f"/v2/images/{image['id']}/file"
    assert client.get(path, headers=BOB).status_code == 404
    assert client.post(f"/v2/images/{image['id']}/members", json={"member": "beta"}, headers=ALICE).status_code == 200
    # any membership status, as for showing the image
    assert client.get(path, headers=BOB).content == DATA
    accept = client.put(f"/v2/images/{image['id']}/members/beta", json={"status": "accepted"}, headers=BOB)
    assert accept.status_code == 200
    assert client.get(path, headers=BOB).content == DATA
    # but a member may not replace the data
    assert put(client, image["id"], b"other", BOB).status_code == 403
