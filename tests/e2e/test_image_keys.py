"""Native image encryption end to end: the image's key in a real Barbican (scripts/barbican-up), a real
`glimpse serve` with Keystone auth, python-glanceclient and python-barbicanclient.

An image created with ``os_encrypt_key_id`` is a consumer of that secret (read back from Barbican's consumer
API); a PATCH to another key moves the consumer; deleting the image removes it, and deletes the key when
``os_encrypt_key_deletion_policy`` is ``on_image_deletion`` and nobody else uses it; ``do_not_delete`` keeps
it, and so does another consumer. A key the caller cannot read is a 400 and no image. A LUKS file made with
``qemu-img`` is accepted as the data of such an image. ``require_encrypted_images`` refuses plain data.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import glanceclient  # type: ignore[import-untyped]
import pytest
from barbicanclient import client as barbican_client
from barbicanclient import exceptions as barbican_errors
from glanceclient import exc as glance_exc

from tests.e2e.conftest import stays_healthy
from tests.e2e.test_key_manager import barbican, user_session  # noqa: F401 (a fixture)
from tests.e2e.test_keystone import KeystoneServer, keystone, keystone_server, password_session  # noqa: F401

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def keys_server(tmp_path_factory: pytest.TempPathFactory, keystone: str, barbican: str) -> Iterator[KeystoneServer]:  # noqa: F811
    with keystone_server(tmp_path_factory, "image-keys") as server, stays_healthy(server):
        yield server


def barbican_as(user: str) -> Any:
    return barbican_client.Client(session=user_session(user))


def new_key(user: str = "alpha-member") -> str:
    """A 256-bit symmetric key, as `openstack secret order create --type key` or Cinder would make one."""
    ref: str = (
        barbican_as(user)
        .secrets.create(
            name=f"image-key-{uuid.uuid4().hex[:8]}",
            payload=base64.b64encode(os.urandom(32)).decode(),
            payload_content_type="application/octet-stream",
            payload_content_encoding="base64",
            secret_type="symmetric",
            algorithm="aes",
            bit_length=256,
        )
        .store()
    )
    return ref.rpartition("/")[2]


def consumers(key: str) -> set[tuple[str, str, str]]:
    listed = barbican_as("alpha-member").secrets.list_consumers(key)
    return {(c.service, c.resource_type, c.resource_id) for c in listed}


def exists(key: str) -> bool:
    try:
        barbican_as("alpha-member").secrets.get(key).name  # noqa: B018 (the GET happens on access)
    except barbican_errors.HTTPClientError as exc:
        if exc.status_code != 404:
            raise
        return False
    return True


def glance_as(server: KeystoneServer, user: str = "alpha-member", project: str = "alpha") -> Any:
    return glanceclient.Client("2", endpoint=server.url, session=password_session(user, project))


def encrypted(glance: Any, key: str, policy: str | None = None, **extra: str) -> str:
    properties = {"os_encrypt_format": "LUKS", "os_encrypt_key_id": key, **extra}
    if policy is not None:
        properties["os_encrypt_key_deletion_policy"] = policy
    image = glance.images.create(
        name=f"sealed-{uuid.uuid4().hex[:8]}", disk_format="raw", container_format="bare", **properties
    )
    return str(image["id"])


def test_the_image_is_a_consumer_of_its_key_until_deleted(keys_server: KeystoneServer) -> None:
    glance = glance_as(keys_server)
    key = new_key()
    image_id = encrypted(glance, key, "do_not_delete")
    assert consumers(key) == {("image", "image", image_id)}
    glance.images.delete(image_id)
    assert consumers(key) == set()
    assert exists(key)  # do_not_delete


def test_on_image_deletion_deletes_the_key(keys_server: KeystoneServer) -> None:
    glance = glance_as(keys_server)
    key = new_key()
    image_id = encrypted(glance, key, "on_image_deletion")
    glance.images.delete(image_id)
    assert not exists(key)


def test_a_key_another_image_still_uses_is_kept(keys_server: KeystoneServer) -> None:
    glance = glance_as(keys_server)
    key = new_key()
    first, second = encrypted(glance, key, "on_image_deletion"), encrypted(glance, key, "on_image_deletion")
    assert consumers(key) == {("image", "image", first), ("image", "image", second)}
    glance.images.delete(first)
    assert exists(key)  # the second image still uses it: a warning, the key stays
    assert consumers(key) == {("image", "image", second)}
    glance.images.delete(second)
    assert not exists(key)


def test_cinders_names_count_too(keys_server: KeystoneServer) -> None:
    glance = glance_as(keys_server)
    key = new_key()
    image = glance.images.create(
        name="from-volume", disk_format="raw", container_format="bare",
        cinder_encryption_key_id=key, cinder_encryption_key_deletion_policy="on_image_deletion",
    )  # fmt: skip
    assert consumers(key) == {("image", "image", image["id"])}
    glance.images.delete(image["id"])
    assert not exists(key)


def test_a_patch_to_another_key_moves_the_consumer(keys_server: KeystoneServer) -> None:
    glance = glance_as(keys_server)
    old, new = new_key(), new_key()
    image_id = encrypted(glance, old, "on_image_deletion")
    glance.images.update(image_id, os_encrypt_key_id=new)
    assert consumers(old) == set()
    assert consumers(new) == {("image", "image", image_id)}
    assert exists(old)  # the policy is about deleting the image, not changing its key
    glance.images.delete(image_id)
    assert not exists(new)


def test_a_key_the_caller_cannot_read_is_refused(keys_server: KeystoneServer) -> None:
    beta = glance_as(keys_server, "beta-member", "beta")
    key = new_key()  # alpha's
    before = {image["id"] for image in beta.images.list()}
    with pytest.raises(glance_exc.HTTPBadRequest, match=f"key {key}"):
        encrypted(beta, key, "on_image_deletion")
    with pytest.raises(glance_exc.HTTPBadRequest, match="key"):
        encrypted(beta, str(uuid.uuid4()))  # no such secret
    assert {image["id"] for image in beta.images.list()} == before
    assert consumers(key) == set()
    # a PATCH to it: refused, the image keeps what it had
    image = beta.images.create(name="plain", disk_format="raw", container_format="bare")
    with pytest.raises(glance_exc.HTTPBadRequest):
        beta.images.update(image["id"], os_encrypt_format="LUKS", os_encrypt_key_id=key)
    assert "os_encrypt_key_id" not in beta.images.get(image["id"])


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img is not installed")
def test_a_luks_image_made_with_cryptsetup_is_accepted(keys_server: KeystoneServer, tmp_path: Path) -> None:
    """A LUKS1 volume as cryptsetup writes it (qemu-img reads it as format luks, 4 MiB virtual). Not made with
    ``qemu-img create -f luks``: Debian 12's qemu-img 7.2 times its PBKDF2 calibration with getrusage, which can
    read 0 ms for the first short round on a loaded machine and then fails with "Unable to get accurate CPU
    usage" (a known qemu bug, fixed upstream in 2025); cryptsetup takes a fixed iteration count and measures
    nothing."""
    glance = glance_as(keys_server)
    key = new_key()
    luks = tmp_path / "disk.luks"
    with luks.open("wb") as disk:
        disk.truncate(6 * 1024 * 1024)  # a 2 MiB LUKS1 header and key slots, then 4 MiB of payload
    subprocess.run(
        ["cryptsetup", "luksFormat", "--type", "luks1", "--batch-mode", "--pbkdf-force-iterations", "1000",
         "--key-file", "-", str(luks)],
        input=b"passphrase", check=True, capture_output=True,
    )  # fmt: skip
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(luks)], check=True,
                                     capture_output=True).stdout)  # fmt: skip
    assert (info["format"], info["virtual-size"]) == ("luks", 4 * 1024 * 1024)
    image_id = encrypted(glance, key, "on_image_deletion", os_decrypt_size=str(4 * 1024 * 1024))
    with luks.open("rb") as data:
        glance.images.upload(image_id, data, image_size=luks.stat().st_size)
    image = glance.images.get(image_id)
    assert image["status"] == "active"
    assert image["size"] == luks.stat().st_size
    glance.images.delete(image_id)
    assert not exists(key)


def test_a_project_may_require_encrypted_images(tmp_path_factory: pytest.TempPathFactory, barbican: str) -> None:  # noqa: F811
    alpha = password_session("alpha-member", "alpha")
    extra = f"\n[glimpse]\nrequire_encrypted_images = {alpha.get_project_id()}\n"
    with keystone_server(tmp_path_factory, "require-encrypted", extra=extra) as strict, stays_healthy(strict):
        glance = glanceclient.Client("2", endpoint=strict.url, session=alpha)
        plain = glance.images.create(name="plain", disk_format="raw", container_format="bare")
        with pytest.raises(glance_exc.HTTPBadRequest, match="accepts encrypted image data only"):
            glance.images.upload(plain["id"], io.BytesIO(b"plain text"), image_size=10)
        assert glance.images.get(plain["id"])["status"] == "queued"
        sealed = encrypted(glance, new_key(), "on_image_deletion")
        glance.images.upload(sealed, io.BytesIO(b"ciphertext"), image_size=10)
        assert glance.images.get(sealed)["status"] == "active"
        glance.images.delete(sealed)
        beta = glanceclient.Client("2", endpoint=strict.url, session=password_session("beta-member", "beta"))
        other = beta.images.create(name="plain", disk_format="raw", container_format="bare")
        beta.images.upload(other["id"], io.BytesIO(b"plain text"), image_size=10)
        assert beta.images.get(other["id"])["status"] == "active"
