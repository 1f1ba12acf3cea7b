"""Uploads and imports are inspected: mislabelled or dangerous data is refused, good images pass and get
their virtual size from the header. Real files are made with qemu-img (Debian's qemu-utils)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from glimpse.settings import Settings
from tests.functional.conftest import OCTET, store_files


def _qemu_img(*args: str) -> None:
    if shutil.which("qemu-img") is None:
        pytest.fail("qemu-img is required: apt-get install -y qemu-utils")
    subprocess.run(["qemu-img", *args], check=True, capture_output=True)


def _create(client: TestClient, disk_format: str) -> str:
    response = client.post("/v2/images", json={"name": "s", "disk_format": disk_format, "container_format": "bare"})
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
    assert response.status_code == 400, response.text
    assert client.get(f"/v2/images/{image_id}").json()["status"] == "queued"
    assert store_files(settings) == []
