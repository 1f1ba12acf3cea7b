"""openstacksdk's image proxy (Connection.image) against a real server, with a fixed token and no Keystone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openstack import exceptions

from tests.e2e.conftest import PAGING_COUNT, PagingSet, Payload, file_digests

pytestmark = pytest.mark.e2e

Sdk = Callable[[str], Any]


def _small_image(conn: Any, name: str, data: bytes, **attrs: Any) -> Any:
    created = conn.image.create_image(
        name=name, data=data, disk_format="raw", container_format="bare", validate_checksum=False, **attrs
    )
    return conn.image.get_image(created.id)


def test_create_upload_download_list(sdk: Sdk, payload: Payload, tmp_path: Path, unique: str) -> None:
    conn = sdk("alpha")
    name = f"sdk-{unique}"
    with payload.path.open("rb") as data:  # given `filename`, openstacksdk 4.22 never closes the file it opens
        created = conn.image.create_image(
            name=name, data=data, disk_format="raw", container_format="bare", visibility="private", e2e=unique
        )
    image = conn.image.get_image(created.id)
    assert image.status == "active"
    assert image.size == payload.size
    assert image.checksum == payload.md5
    assert (image.hash_algo, image.hash_value) == ("sha512", payload.sha512)
    assert image.visibility == "private"
    assert image.owner == "alpha"
    assert image.properties["e2e"] == unique

    target = tmp_path / "down.img"
    conn.image.download_image(image, output=str(target))  # the SDK verifies os_hash_value while writing
    assert file_digests(target) == (payload.md5, payload.sha512)
    target.unlink()

    assert [i.id for i in conn.image.images(name=name)] == [image.id]
    assert image.id in [i.id for i in conn.image.images(visibility="private", owner="alpha")]
    assert conn.image.find_image(name, ignore_missing=False).id == image.id
    assert [i.id for i in sdk("beta").image.images(name=name)] == []


def test_update_tags_deactivate_delete(sdk: Sdk, unique: str) -> None:
    conn, admin = sdk("alpha"), sdk("admin")
    data = b"0123456789abcdef" * 4096
    image = _small_image(conn, f"sdk-life-{unique}", data)

    updated = conn.image.update_image(image, name=f"sdk-life2-{unique}", min_ram=2048, min_disk=1)
    assert (updated.name, updated.min_ram, updated.min_disk) == (f"sdk-life2-{unique}", 2048, 1)

    conn.image.add_tag(image, f"a-{unique}")
    conn.image.add_tag(image, f"b-{unique}")
    conn.image.remove_tag(image, f"a-{unique}")
    assert conn.image.get_image(image.id).tags == [f"b-{unique}"]
    assert [i.id for i in conn.image.images(tag=f"b-{unique}")] == [image.id]
    assert [i.id for i in conn.image.images(tag=f"a-{unique}")] == []

    conn.image.deactivate_image(image)
    assert conn.image.get_image(image.id).status == "deactivated"
    # openstacksdk 4.22 does not raise on a refused download: look at the response itself
    refused = conn.image.download_image(image, stream=True)
    assert refused.status_code == 403
    refused.close()
    assert admin.image.download_image(image).content == data

    conn.image.reactivate_image(image)
    assert conn.image.get_image(image.id).status == "active"
    assert conn.image.download_image(image).content == data

    conn.image.delete_image(image, ignore_missing=False)
    with pytest.raises(exceptions.NotFoundException):
        conn.image.get_image(image.id)
    with pytest.raises(exceptions.NotFoundException):
        conn.image.delete_image(image.id, ignore_missing=False)
    assert image.id not in [i.id for i in admin.image.images(name=f"sdk-life2-{unique}")]


def test_members(sdk: Sdk, unique: str) -> None:
    alpha, beta = sdk("alpha"), sdk("beta")
    image = _small_image(alpha, f"sdk-shared-{unique}", b"shared", visibility="shared", tags=[unique])

    member = alpha.image.add_member(image, member_id="beta")
    assert (member.member_id, member.status) == ("beta", "pending")
    assert [i.id for i in beta.image.images(tag=unique)] == []
    assert [i.id for i in beta.image.images(tag=unique, member_status="pending", visibility="shared")] == [image.id]

    assert beta.image.update_member("beta", image, status="accepted").status == "accepted"
    assert [i.id for i in beta.image.images(tag=unique)] == [image.id]
    assert beta.image.download_image(image).content == b"shared"
    assert [(m.member_id, m.status) for m in alpha.image.members(image)] == [("beta", "accepted")]
    assert beta.image.get_member("beta", image).status == "accepted"

    assert beta.image.update_member("beta", image, status="rejected").status == "rejected"
    assert [i.id for i in beta.image.images(tag=unique)] == []

    alpha.image.remove_member("beta", image, ignore_missing=False)
    assert list(alpha.image.members(image)) == []
    with pytest.raises(exceptions.NotFoundException):
        beta.image.get_image(image.id)


def test_paging(sdk: Sdk, paging_set: PagingSet) -> None:
    conn = sdk("alpha")
    listed = list(conn.image.images(tag=paging_set.tag, limit=41, sort="name:asc,created_at:desc"))
    ids = [image.id for image in listed]
    assert len(ids) == len(set(ids)) == PAGING_COUNT
    assert set(ids) == paging_set.ids
    names = [image.name for image in listed]
    assert names == sorted(names)
    assert {image.id: image.properties["e2e_parity"] for image in listed} == paging_set.parity

    newest_first = [image.created_at for image in conn.image.images(tag=paging_set.tag, limit=100)]
    assert newest_first == sorted(newest_first, reverse=True)
    assert len(newest_first) == PAGING_COUNT


def test_cloud_layer_create_wait_download_delete(sdk: Sdk, tmp_path: Path, unique: str) -> None:
    """The Connection-level helpers (as the `openstack` CLI's callers use them), including their polling."""
    conn = sdk("alpha")
    name = f"sdk-cloud-{unique}"
    data = b"cloud layer " * 5000
    source = tmp_path / "source.img"
    source.write_bytes(data)
    with source.open("rb") as handle:
        image = conn.create_image(
            name, data=handle, disk_format="raw", container_format="bare", wait=True, timeout=30, tags=[unique]
        )
    assert image.status == "active"
    assert image.size == len(data)
    assert conn.get_image(name).id == image.id
    assert image.id in [i.id for i in conn.list_images()]
    assert [i.id for i in conn.search_images(filters={"tags": [unique]})] == [image.id]

    target = tmp_path / "down.img"
    with target.open("wb") as handle:
        conn.download_image(name, output_file=handle)
    assert target.read_bytes() == data

    assert conn.update_image_properties(image=conn.get_image(name), meta={"purpose": unique}) is True
    assert conn.get_image(name).properties["purpose"] == unique

    assert conn.delete_image(name, wait=True, timeout=30) is True
    assert conn.get_image(name) is None
