"""Uploads and imports are inspected: mislabelled or dangerous data is refused, good images pass and get
their virtual size from the header. Real files are made with qemu-img (Debian's qemu-utils)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from glimpse.settings import Settings
from tests.conftest import running_app
from tests.functional.conftest import OCTET, store_files


def _qemu_img(*args: str) -> None:
    if shutil.which("qemu-img") is None:
        pytest.fail("qemu-img is required: apt-get install -y qemu-utils")
    done = subprocess.run(["qemu-img", *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _create(client: TestClient, disk_format: str, container_format: str = "bare", **properties: str) -> str:
    body = {"name": "s", "disk_format": disk_format, "container_format": container_format, **properties}
    response = client.post("/v2/images", json=body)
    assert response.status_code == 201
    image_id: str = response.json()["id"]
    return image_id


def test_good_qcow2_gets_its_virtual_size(client: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "good.qcow2"
    _qemu_img("create", "-f", "qcow2", str(path), "1G")
    image_id = _create(client, "qcow2")
    response = client.put(f"/v2/images/{image_id}/file", content=path.read_bytes(), headers=OCTET)
    assert response.status_code == 204, response.text
    image = client.get(f"/v2/images/{image_id}").json()
    assert image["status"] == "active"
    assert image["virtual_size"] == 1024**3


def test_raw_data_gets_its_size_as_virtual_size(client: TestClient) -> None:
    image_id = _create(client, "raw")
    assert client.put(f"/v2/images/{image_id}/file", content=b"x" * 4096, headers=OCTET).status_code == 204
    assert client.get(f"/v2/images/{image_id}").json()["virtual_size"] == 4096


@pytest.mark.parametrize("case", ["backing-file", "raw-labelled-qcow2", "qcow2-labelled-raw", "flat-vmdk"])
def test_dangerous_or_mislabelled_uploads_are_refused(
    client: TestClient, settings: Settings, tmp_path: Path, case: str
) -> None:
    if case == "backing-file":
        _qemu_img("create", "-f", "qcow2", str(tmp_path / "base.qcow2"), "64M")
        _qemu_img("create", "-f", "qcow2", "-b", str(tmp_path / "base.qcow2"), "-F", "qcow2",
                  str(tmp_path / "payload"))  # fmt: skip
        label = "qcow2"
    elif case == "raw-labelled-qcow2":
        (tmp_path / "payload").write_bytes(b"\0" * 65536)
        label = "qcow2"
    elif case == "qcow2-labelled-raw":
        _qemu_img("create", "-f", "qcow2", str(tmp_path / "payload"), "64M")
        label = "raw"
    else:
        _qemu_img("create", "-f", "vmdk", "-o", "subformat=monolithicFlat", str(tmp_path / "disk.vmdk"), "1M")
        (tmp_path / "payload").write_bytes((tmp_path / "disk.vmdk").read_bytes())
        label = "vmdk"
    image_id = _create(client, label)
    response = client.put(f"/v2/images/{image_id}/file", content=(tmp_path / "payload").read_bytes(), headers=OCTET)
    assert response.status_code == 415, response.text  # Glance 33: InvalidImageData is a 415 with the reason
    assert client.get(f"/v2/images/{image_id}").json()["status"] == "queued"
    assert store_files(settings) == []


# -- Glance 33's rules: what is inspected and what virtual size is reported --------------------------------------
def _upload(client: TestClient, image_id: str, data: bytes) -> dict[str, object]:
    response = client.put(f"/v2/images/{image_id}/file", content=data, headers=OCTET)
    assert response.status_code == 204, response.text
    image: dict[str, object] = client.get(f"/v2/images/{image_id}").json()
    assert image["status"] == "active"
    return image


@pytest.mark.parametrize("container", ["ovf", "ova", "ami", "docker"])
def test_only_bare_containers_are_inspected(client: TestClient, tmp_path: Path, container: str) -> None:
    """Glance inspects only a bare container's data: anything else is opaque, and gets no virtual size."""
    image = _upload(client, _create(client, "qcow2", container), b"not a qcow2 header" * 100)
    assert image["virtual_size"] is None
    assert image["size"] == 1800


@pytest.mark.parametrize("label", ["ami", "aki", "ari"])
def test_labels_the_inspector_does_not_know_get_no_virtual_size(client: TestClient, label: str) -> None:
    assert _upload(client, _create(client, label), b"k" * 4096)["virtual_size"] is None


@pytest.mark.parametrize("label", ["raw", "ami"])
def test_zero_bytes_get_no_virtual_size(client: TestClient, label: str) -> None:
    image = _upload(client, _create(client, label), b"")
    assert (image["size"], image["virtual_size"]) == (0, None)


def test_ami_still_refuses_a_qcow2(client: TestClient, tmp_path: Path) -> None:
    _qemu_img("create", "-f", "qcow2", str(tmp_path / "q"), "64M")
    image_id = _create(client, "ami")
    response = client.put(f"/v2/images/{image_id}/file", content=(tmp_path / "q").read_bytes(), headers=OCTET)
    assert response.status_code == 415, response.text


def test_format_match_off_keeps_a_qcow2_labelled_raw_as_glance_does(settings: Settings, tmp_path: Path) -> None:
    """[image_format] require_image_format_match = false: mismatched data is kept (raw: the data size is
    its virtual size), but unsafe data is still refused."""
    _qemu_img("create", "-f", "qcow2", str(tmp_path / "q"), "64M")
    _qemu_img("create", "-f", "qcow2", "-b", str(tmp_path / "q"), "-F", "qcow2", str(tmp_path / "child"))
    lenient = settings.model_copy(update={"require_image_format_match": False})
    with running_app(lenient) as client:
        data = (tmp_path / "q").read_bytes()
        image = _upload(client, _create(client, "raw"), data)
        assert image["virtual_size"] == len(data)
        assert _upload(client, _create(client, "vmdk"), data)["virtual_size"] is None
        child = _create(client, "raw")
        response = client.put(f"/v2/images/{child}/file", content=(tmp_path / "child").read_bytes(), headers=OCTET)
        assert response.status_code == 415, response.text
        assert "backing" in response.text


def _luks_qcow2(tmp_path: Path) -> bytes:
    """A qcow2 whose header names LUKS encryption (crypt_method 2, the field the inspector reads).

    Made from a plain qcow2 rather than by ``qemu-img create -o encrypt.format=luks``: Debian 12's qemu-img 7.2
    fails that at random with "Unable to get accurate CPU usage" (its pbkdf benchmark can measure 0 ms of CPU;
    fixed upstream in qemu 9.2.1), which made this test flaky."""
    path = tmp_path / "encrypted.qcow2"
    _qemu_img("create", "-f", "qcow2", str(path), "16M")
    data = bytearray(path.read_bytes())
    assert data[32:36] == bytes(4)  # magic, version, backing offset and size, cluster bits, size: crypt_method
    data[32:36] = (2).to_bytes(4, "big")
    return bytes(data)


KEY = "f4ee9d6c-0b1a-4c2e-9d3f-5a6b7c8d9e0f"  # a key id in the key manager (a UUID)


@pytest.mark.parametrize(
    "properties",
    [{"os_encrypt_format": "luks", "os_encrypt_key_id": KEY}, {"cinder_encryption_key_id": KEY}],
)
def test_encrypted_qcow2_is_accepted_when_the_image_says_it_is_encrypted(
    client: TestClient, tmp_path: Path, properties: dict[str, str]
) -> None:
    image = _upload(client, _create(client, "qcow2", **properties), _luks_qcow2(tmp_path))
    assert image["virtual_size"] == 16 * 1024**2


def test_encrypted_qcow2_is_refused_otherwise(client: TestClient, settings: Settings, tmp_path: Path) -> None:
    image_id = _create(client, "qcow2", os_distro="cirros")
    response = client.put(f"/v2/images/{image_id}/file", content=_luks_qcow2(tmp_path), headers=OCTET)
    assert response.status_code == 415, response.text
    assert "encrypted" in response.text
    assert client.get(f"/v2/images/{image_id}").json()["status"] == "queued"
    assert store_files(settings) == []
