"""glimpse.settings.stores: a store's section is typed by its driver's options model."""

from __future__ import annotations

import logging
from pathlib import Path

import pydantic
import pytest

from glimpse.settings import (
    FilesystemStoreOptions,
    HttpStoreOptions,
    RbdStoreOptions,
    S3StoreOptions,
    StoreSettings,
    SwiftStoreOptions,
    load_settings,
)
from tests.unit.settings.support import write


# -- store options ---------------------------------------------------------------------------------------------
def test_store_sections_are_typed_by_driver(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ini = write(
        tmp_path,
        """
[DEFAULT]
enabled_backends = disk:file, s3:s3, sw:swift, ceph:rbd, web:http

[disk]
filesystem_store_datadir = /srv/disk
filesystem_store_file_perm = 0640

[s3]
s3_store_host = rgw.example:8080
s3_store_access_key = AK
s3_store_secret_key = SK-secret
s3_store_bucket = images
s3_store_large_object_size = 200
s3_store_region_name =

[sw]
swift_store_auth_address = http://swift/auth/v1.0
swift_store_user = acc:usr
swift_store_key = swift-secret
swift_store_auth_version = 1
swift_store_create_container_on_put = True

[ceph]
rbd_store_pool = vms
rbd_store_chunk_size = 4
rbd_store_bogus = 1

[web]
https_insecure = true
""",
    )
    with caplog.at_level(logging.WARNING, logger="glimpse.settings"):
        settings = load_settings(ini, env={}, data_dir=tmp_path)
    disk, s3, sw, ceph, web = (settings.stores[name].options for name in ("disk", "s3", "sw", "ceph", "web"))
    assert disk == FilesystemStoreOptions(filesystem_store_datadir=Path("/srv/disk"))
    assert isinstance(s3, S3StoreOptions)
    assert (s3.s3_store_host, s3.s3_store_bucket, s3.s3_store_large_object_size) == (
        "http://rgw.example:8080",
        "images",
        200,
    )
    assert s3.s3_store_region_name == "us-east-1"  # empty: the default
    assert s3.s3_store_secret_key.get_secret_value() == "SK-secret"
    assert isinstance(sw, SwiftStoreOptions)
    assert sw.swift_store_key is not None
    assert sw.swift_store_key.get_secret_value() == "swift-secret"
    assert (sw.swift_store_auth_version, sw.swift_store_create_container_on_put) == ("1", True)
    assert ceph == RbdStoreOptions(rbd_store_pool="vms", rbd_store_chunk_size=4)
    assert web == HttpStoreOptions()
    warnings = [record.getMessage() for record in caplog.records]
    for section, option in (
        ("disk", "filesystem_store_file_perm"),
        ("ceph", "rbd_store_bogus"),
        ("web", "https_insecure"),
    ):
        assert any(f"[{section}] {option}" in message for message in warnings), (section, warnings)
    assert not any("s3_store" in message or "swift_store" in message for message in warnings)


def test_a_bad_store_option_names_the_option_without_its_value(tmp_path: Path) -> None:
    ini = write(
        tmp_path,
        "[DEFAULT]\nenabled_backends = s3:s3\n[s3]\ns3_store_host = h\ns3_store_access_key = a\n"
        "s3_store_secret_key = do-not-print\ns3_store_bucket = b\ns3_store_thread_pools = none\n",
    )
    with pytest.raises(pydantic.ValidationError, match="s3_store_thread_pools") as refused:
        load_settings(ini, env={}, data_dir=tmp_path)
    assert "do-not-print" not in str(refused.value)


def test_a_store_needs_its_required_options(tmp_path: Path) -> None:
    ini = write(tmp_path, "[DEFAULT]\nenabled_backends = s3:s3\n[s3]\ns3_store_host = h\n")
    with pytest.raises(pydantic.ValidationError, match="s3_store_bucket"):
        load_settings(ini, env={}, data_dir=tmp_path)


def test_options_of_another_driver_are_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match="takes RbdStoreOptions"):
        StoreSettings(id="x", type="rbd", options=FilesystemStoreOptions())
