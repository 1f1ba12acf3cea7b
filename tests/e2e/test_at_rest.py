"""Encryption at rest end to end: a real `glimpse serve` (Keystone auth) whose filesystem store ``fast`` seals
what it writes under a key-encryption key in the real Barbican of scripts/barbican-up, read by Glimpse's service
user through a Barbican ACL; python-glanceclient uploads and downloads.

What is on disk is the sealed object (a header, then 64 KiB chunks), never the data; the image's size, checksum
and multihash are the data's; downloads (whole and ranged) give the data back, also from the Swift store
``vault`` (a large object in segments); an import, run by the worker with no user token, seals fast's copy (and
not plain's), and copy-image opens a sealed source; a stored object altered on disk is never served; with
Barbican unreachable an upload to ``fast`` answers 503 and leaves nothing.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import glanceclient  # type: ignore[import-untyped]
import httpx
import pytest
import swiftclient  # type: ignore[import-untyped]
from barbicanclient import client as barbican_client
from glanceclient import exc as glance_exc

from glimpse.data.sealing import CHUNK_SIZE, HEADER_SIZE, MAGIC, PLAIN_CHUNK, sealed_size
from tests.e2e.conftest import stays_healthy
from tests.e2e.test_image_keys import new_key
from tests.e2e.test_key_manager import BARBICAN_URL, barbican, user_session  # noqa: F401 (a fixture)
from tests.e2e.test_keystone import (  # noqa: F401 (fixtures)
    SERVICE_PASSWORD,
    SERVICE_PROJECT,
    SERVICE_USER,
    KeystoneServer,
    keystone,
    keystone_server,
    password_session,
)

pytestmark = pytest.mark.e2e

STORES = """
[DEFAULT]
enabled_backends = fast:file, plain:file, vault:swift

[glance_store]
default_backend = fast

[fast]
encrypt_at_rest = true
encrypt_at_rest_key = {key}

[vault]
swift_store_auth_address = http://127.0.0.1:8080/auth/v1.0
swift_store_auth_version = 1
swift_store_user = glimpse:glimpse
swift_store_key = glimpse-secret
swift_store_container = {container}
swift_store_create_container_on_put = true
swift_store_large_object_size = 16
swift_store_large_object_chunk_size = 8
encrypt_at_rest = true
encrypt_at_rest_key = {key}

[key_manager]
at_rest_key_cache_time = {cache_time}
{conf}
"""


@pytest.fixture(autouse=True)
def _server_stays_healthy() -> None:
    """These tests run their own servers (checked in the tests: one of them makes the server log errors)."""


def service_user_id() -> str:
    session = password_session(SERVICE_USER, SERVICE_PROJECT, SERVICE_PASSWORD)
    user_id = session.get_user_id()
    assert user_id is not None
    return str(user_id)


@pytest.fixture(scope="module")
def kek(barbican: str, keystone: str) -> str:  # noqa: F811
    """A 256-bit key made by a project member, readable by Glimpse's service user through the secret's ACL (as
    `openstack acl user add --user glimpse --operation-type read <secret>` does)."""
    key = new_key("alpha-member")
    client = barbican_client.Client(session=user_session("alpha-member"))
    client.acls.create(entity_ref=f"{BARBICAN_URL}/v1/secrets/{key}", users=[service_user_id()]).submit()
    return key


def _serve(factory: pytest.TempPathFactory, name: str, key: str, *, cache_time: int = 300, conf: str = "") -> Any:
    return keystone_server(
        factory,
        name,
        extra=STORES.format(
            key=key, cache_time=cache_time, conf=conf, container=f"glimpse-e2e-{uuid.uuid4().hex[:10]}"
        ),
    )


@pytest.fixture(scope="module")
def sealing_server(tmp_path_factory: pytest.TempPathFactory, kek: str) -> Iterator[KeystoneServer]:
    with _serve(tmp_path_factory, "at-rest", kek) as server:
        yield server


def glance_as(server: KeystoneServer, user: str = "alpha-member", project: str = "alpha", *password: str) -> Any:
    return glanceclient.Client("2", endpoint=server.url, session=password_session(user, project, *password))


def swift() -> Any:
    """The Swift of scripts/swift-up, as the vault store signs in."""
    return swiftclient.Connection(
        authurl="http://127.0.0.1:8080/auth/v1.0", user="glimpse:glimpse", key="glimpse-secret", auth_version="1"
    )


def stored_file(server: KeystoneServer, store: str, image_id: str) -> Path:
    """The image's one finished copy in the store (``<image id>`` when uploaded, ``<image id>.attempt-<token>``
    when an import attempt wrote it)."""
    directory = server.config.parent / "data" / "stores" / store
    [path] = [p for p in directory.iterdir() if p.name.partition(".attempt-")[0] == image_id and p.suffix != ".partial"]
    return path


def upload(glance: Any, data: bytes, store: str | None = None) -> str:
    image = glance.images.create(name=f"at-rest-{uuid.uuid4().hex[:8]}", disk_format="raw", container_format="bare")
    body = io.BytesIO(data)  # glanceclient reads a file
    glance.images.upload(image["id"], body, backend=store) if store else glance.images.upload(image["id"], body)
    return str(image["id"])


def download(glance: Any, image_id: str) -> bytes:
    return b"".join(glance.images.data(image_id))


def ranged(server: KeystoneServer, image_id: str, header: str) -> httpx.Response:
    token = password_session("alpha-member", "alpha").get_token()
    return httpx.get(
        f"{server.url}/v2/images/{image_id}/file", headers={"X-Auth-Token": str(token), "Range": header}, timeout=60
    )


def _read_into(received: bytearray, server: KeystoneServer, image_id: str) -> None:
    token = password_session("alpha-member", "alpha").get_token()
    url, headers = f"{server.url}/v2/images/{image_id}/file", {"X-Auth-Token": str(token)}
    with httpx.stream("GET", url, headers=headers, timeout=60) as response:
        for piece in response.iter_bytes():
            received += piece


def test_an_upload_is_sealed_on_disk_and_downloads_as_sent(sealing_server: KeystoneServer, kek: str) -> None:
    data = os.urandom(3 * PLAIN_CHUNK + 1234) + b"plaintext marker " * 4096
    glance = glance_as(sealing_server)
    with stays_healthy(sealing_server):
        image_id = upload(glance, data)
        image = glance.images.get(image_id)
        assert (image["status"], image["size"]) == ("active", len(data))
        assert image["checksum"] == hashlib.md5(data).hexdigest()
        assert image["os_hash_value"] == hashlib.sha512(data).hexdigest()
        assert image["stores"] == "fast"
        on_disk = stored_file(sealing_server, "fast", image_id).read_bytes()
        assert on_disk.startswith(MAGIC)
        assert kek.encode() in on_disk[:HEADER_SIZE]
        assert len(on_disk) == sealed_size(len(data))
        assert b"plaintext marker" not in on_disk
        assert data[:4096] not in on_disk
        assert data[-4096:] not in on_disk
        assert download(glance, image_id) == data  # glanceclient checks the md5 as it reads


@pytest.mark.parametrize(
    ("start", "end"),
    [(0, 0), (PLAIN_CHUNK - 1, PLAIN_CHUNK), (PLAIN_CHUNK, 2 * PLAIN_CHUNK - 1), (5, 3 * PLAIN_CHUNK + 7), (None, 10)],
)
def test_ranged_downloads(sealing_server: KeystoneServer, start: int | None, end: int) -> None:
    data = os.urandom(4 * PLAIN_CHUNK + 99)
    with stays_healthy(sealing_server):
        image_id = upload(glance_as(sealing_server), data)
        header = f"bytes={'' if start is None else start}-{end}"
        response = ranged(sealing_server, image_id, header)
        assert response.status_code == 206, response.text
        expected = data[-end:] if start is None else data[start : end + 1]
        assert response.content == expected
        total = len(data)
        first = total - end if start is None else start
        assert response.headers["content-range"] == f"bytes {first}-{first + len(expected) - 1}/{total}"


def test_an_import_into_both_stores_seals_only_fasts_copy(sealing_server: KeystoneServer) -> None:
    """glance-direct runs in the worker, with no user token: the key is read as the service user."""
    data = os.urandom(PLAIN_CHUNK * 2 + 5)
    glance = glance_as(sealing_server)
    with stays_healthy(sealing_server):
        image = glance.images.create(name="imported", disk_format="raw", container_format="bare")
        glance.images.stage(image["id"], io.BytesIO(data))
        glance.images.image_import(image["id"], method="glance-direct", stores=["fast", "plain"])
        deadline = time.monotonic() + 60
        while glance.images.get(image["id"])["status"] != "active":
            assert time.monotonic() < deadline, glance.images.get(image["id"])
            time.sleep(0.2)
        shown = glance.images.get(image["id"])
        assert set(shown["stores"].split(",")) == {"plain", "fast"}
        assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
        assert stored_file(sealing_server, "plain", image["id"]).read_bytes() == data
        sealed = stored_file(sealing_server, "fast", image["id"]).read_bytes()
        assert sealed.startswith(MAGIC)
        assert data[:4096] not in sealed
        stored_file(sealing_server, "plain", image["id"]).unlink()  # only the sealed copy is left to serve it
        assert download(glance, image["id"]) == data


def test_an_altered_object_is_never_served(sealing_server: KeystoneServer) -> None:
    data = os.urandom(3 * PLAIN_CHUNK)
    glance = glance_as(sealing_server)
    image_id = upload(glance, data)
    path = stored_file(sealing_server, "fast", image_id)
    sealed = bytearray(path.read_bytes())
    sealed[HEADER_SIZE + 10] ^= 1  # the first chunk: found before the response starts
    path.write_bytes(sealed)
    response = ranged(sealing_server, image_id, "bytes=0-99")
    assert response.status_code == 502
    assert "failed authentication" in response.text
    assert data[:100] not in response.content
    sealed[HEADER_SIZE + 10] ^= 1
    sealed[HEADER_SIZE + 2 * CHUNK_SIZE + 10] ^= 1  # the last chunk: the body stops before it
    path.write_bytes(sealed)
    with pytest.raises(IOError, match=r"[Cc]hecksum|[Ii]ncomplete|closed|[Cc]onnection"):
        download(glance, image_id)  # the body stops before the altered chunk: glanceclient sees it short
    received = bytearray()
    with pytest.raises(httpx.RemoteProtocolError):  # the connection is cut: never taken for the whole
        _read_into(received, sealing_server, image_id)
    assert bytes(received) == data[: len(received)]
    assert len(received) <= 2 * PLAIN_CHUNK
    assert "altered or cut short" in sealing_server.log_tail(200)


def test_barbican_down_an_upload_fails_with_503_and_leaves_nothing(
    tmp_path_factory: pytest.TempPathFactory, kek: str
) -> None:
    dead = "[barbican]\nbarbican_endpoint = http://127.0.0.1:9\n"
    with _serve(tmp_path_factory, "at-rest-down", kek, cache_time=0, conf=dead) as server:
        glance = glance_as(server)
        image = glance.images.create(name="no-key", disk_format="raw", container_format="bare")
        with pytest.raises(glance_exc.HTTPServiceUnavailable):
            glance.images.upload(image["id"], io.BytesIO(b"x" * 100_000))
        assert glance.images.get(image["id"])["status"] == "queued"
        assert list((server.config.parent / "data" / "stores" / "fast").iterdir()) == []
        # the plain store does not need the key manager
        other = upload(glance, b"plain data", "plain")
        assert download(glance, other) == b"plain data"


def test_a_sealed_swift_large_object_reads_back_whole_and_in_ranges(sealing_server: KeystoneServer) -> None:
    """Over Swift's segments (8 MiB, an SLO from 16 MiB): the store's pieces never fall on chunk boundaries."""
    data = os.urandom(20 * 1024 * 1024 + 4321)
    glance = glance_as(sealing_server)
    with stays_healthy(sealing_server):
        image_id = upload(glance, data, "vault")
        image = glance.images.get(image_id)
        assert (image["stores"], image["size"], image["os_hash_value"]) == (
            "vault", len(data), hashlib.sha512(data).hexdigest()
        )  # fmt: skip
        config = sealing_server.config.read_text()
        container = config.split("swift_store_container = ", 1)[1].split()[0]
        _, stored = swift().get_object(container, image_id)
        assert len(stored) == sealed_size(len(data))
        assert stored.startswith(MAGIC)
        assert data[:4096] not in stored
        assert download(glance, image_id) == data
        segment = 8 * 1024 * 1024 - HEADER_SIZE  # the data at the first segment's end
        for start, end in ((segment - 100, segment + 100), (len(data) - 70_000, len(data) - 1), (123, 17_000_000)):
            response = ranged(sealing_server, image_id, f"bytes={start}-{end}")
            assert response.status_code == 206
            assert response.content == data[start : end + 1]


def test_copy_image_opens_the_sealed_source_and_seals_again(sealing_server: KeystoneServer) -> None:
    """An admin's copy-image (in the worker) of a sealed copy: plain where the target is plain, sealed under a new
    data key where it encrypts; the copy is checked against the image's recorded hash, so it is the data."""
    data = os.urandom(3 * PLAIN_CHUNK + 77)
    glance = glance_as(sealing_server)
    admin = glance_as(sealing_server, "admin", "admin", "admin")  # scripts/keystone-up's bootstrap admin
    with stays_healthy(sealing_server):
        image_id = upload(glance, data, "fast")
        admin.images.image_import(image_id, method="copy-image", stores=["plain", "vault"])
        deadline = time.monotonic() + 120
        while glance.images.get(image_id).get("os_glance_importing_to_stores"):
            assert time.monotonic() < deadline, glance.images.get(image_id)
            time.sleep(0.3)
        assert set(glance.images.get(image_id)["stores"].split(",")) == {"fast", "plain", "vault"}
        assert stored_file(sealing_server, "plain", image_id).read_bytes() == data
        fast = stored_file(sealing_server, "fast", image_id).read_bytes()
        container = sealing_server.config.read_text().split("swift_store_container = ", 1)[1].split()[0]
        conn = swift()
        [name] = [o["name"] for o in conn.get_container(container, prefix=f"{image_id}.attempt-")[1]]  # the copy's
        _, vault = conn.get_object(container, name)
        assert vault.startswith(MAGIC)
        assert vault[:HEADER_SIZE] != fast[:HEADER_SIZE]  # its own data key and nonce prefix
        assert len(vault) == len(fast) == sealed_size(len(data))
