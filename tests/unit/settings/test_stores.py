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


# -- encryption at rest ----------------------------------------------------------------------------------------
SERVICE_USER = """
[keystone_authtoken]
auth_url = http://127.0.0.1:5000
username = glimpse
password = secret
project_name = service
"""


def test_encryption_at_rest_is_a_store_sections_choice(tmp_path: Path) -> None:
    ini = write(
        tmp_path,
        "[DEFAULT]\nenabled_backends = fast:file, old:file, plain:file\n"
        "[fast]\nencrypt_at_rest = true\nencrypt_at_rest_key = http://127.0.0.1:9311/v1/secrets/k2\n"
        "encrypt_at_rest_old_keys = k0, k1\n"
        "[old]\nencrypt_at_rest = false\nencrypt_at_rest_key = k1\n" + SERVICE_USER,
    )
    settings = load_settings(ini, env={}, data_dir=tmp_path)
    fast, old, plain = settings.stores["fast"], settings.stores["old"], settings.stores["plain"]
    assert (fast.encrypt_at_rest, fast.encrypt_at_rest_key, fast.at_rest_keys) == (True, "k2", {"k0", "k1", "k2"})
    assert (old.encrypt_at_rest, old.at_rest_keys) == (False, {"k1"})  # writes plain data, reads what it sealed
    assert (plain.encrypt_at_rest, plain.at_rest_keys) == (False, frozenset())
    assert fast.options == FilesystemStoreOptions(filesystem_store_datadir=tmp_path / "stores" / "fast")


@pytest.mark.parametrize(
    ("section", "extra", "refusal"),
    [
        ("encrypt_at_rest = true\n", SERVICE_USER, "encrypt_at_rest needs encrypt_at_rest_key"),
        ("encrypt_at_rest = true\nencrypt_at_rest_key = k\n", "", r"\[keystone_authtoken\] needs"),
        ("encrypt_at_rest_key = k\n", "[key_manager]\nbackend = none\n" + SERVICE_USER, "backend cannot be none"),
    ],
)
def test_encryption_at_rest_needs_a_key_and_a_service_user(
    tmp_path: Path, section: str, extra: str, refusal: str
) -> None:
    ini = write(tmp_path, f"[DEFAULT]\nenabled_backends = fast:file\n[fast]\n{section}{extra}")
    with pytest.raises(pydantic.ValidationError, match=refusal):
        load_settings(ini, env={}, data_dir=tmp_path)
