"""glimpse.settings.model: the defaults, the settings frozen, and validation of the values together."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from glimpse.settings import (
    DEFAULT_CONTAINER_FORMATS,
    DEFAULT_DISK_FORMATS,
    FilesystemStoreOptions,
    Settings,
    StoreSettings,
    load_settings,
)
from tests.unit.settings.support import write


# -- defaults --------------------------------------------------------------------------------------------------
def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(env={}, data_dir=tmp_path)
    assert settings.data_dir == tmp_path
    assert settings.database_url.get_secret_value() == f"sqlite:///{tmp_path / 'glimpse.db'}"
    assert settings.token_file == tmp_path / "tokens.json"
    assert settings.auth == "tokens"
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 9292, 1)
    assert list(settings.stores) == ["local"]
    assert settings.default_backend == "local"
    assert settings.stores["local"].type == "file"
    assert settings.stores["local"].options == FilesystemStoreOptions(
        filesystem_store_datadir=tmp_path / "stores" / "local"
    )
    assert settings.image_size_cap == 1099511627776
    assert settings.max_request_body_size == 114688
    assert settings.hashing_algorithm == "sha512"
    assert settings.disk_formats == DEFAULT_DISK_FORMATS
    assert settings.container_formats == DEFAULT_CONTAINER_FORMATS
    assert (settings.limit_param_default, settings.api_limit_max) == (25, 1000)
    assert (settings.image_property_quota, settings.image_tag_quota, settings.image_member_quota) == (128, 128, 128)
    assert settings.show_image_direct_url is False
    assert settings.show_multiple_locations is False
    assert settings.public_endpoint is None


def test_default_data_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert Settings().data_dir == tmp_path / "xdg" / "glimpse"


def test_data_dir_expands_user(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    settings = load_settings(env={}, data_dir=Path("~/glimpse-data"))
    assert settings.data_dir == tmp_path / "glimpse-data"


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings(env={}, data_dir=tmp_path)
    with pytest.raises(pydantic.ValidationError):
        settings.port = 1  # type: ignore[misc]


# -- validation ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ["sha1", "sha224", "sha256", "sha384", "sha512", "md5", "sha3_256", "blake2b"])
def test_known_hashing_algorithms(tmp_path: Path, algorithm: str) -> None:
    assert load_settings(env={"GLIMPSE_HASHING_ALGORITHM": algorithm}, data_dir=tmp_path).hashing_algorithm == algorithm


def test_unknown_hashing_algorithm(tmp_path: Path) -> None:
    with pytest.raises(pydantic.ValidationError, match="unsupported hashing_algorithm 'crc32'"):
        load_settings(env={"GLIMPSE_HASHING_ALGORITHM": "crc32"}, data_dir=tmp_path)


@pytest.mark.parametrize(("name", "value"), [("GLIMPSE_PORT", "many"), ("GLIMPSE_AUTH", "ldap")])
def test_invalid_values(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        load_settings(env={name: value}, data_dir=tmp_path)


def test_unknown_default_backend(tmp_path: Path) -> None:
    with pytest.raises(pydantic.ValidationError, match="not in enabled_backends"):
        load_settings(env={"GLIMPSE_DEFAULT_BACKEND": "elsewhere"}, data_dir=tmp_path)


def test_explicit_store_settings(tmp_path: Path) -> None:
    store = StoreSettings(id="s", type="file", options={"filesystem_store_datadir": "/srv/s"})
    settings = load_settings(env={}, data_dir=tmp_path, stores={"s": store})
    assert settings.stores["s"].options.filesystem_store_datadir == Path("/srv/s")
    assert settings.default_backend == "s"


# -- recovery and the database's patience ------------------------------------------------------------------------
def test_busy_timeout_and_recovery_defaults(tmp_path: Path) -> None:
    settings = load_settings(env={}, data_dir=tmp_path)
    assert settings.database_busy_timeout == 30.0
    assert settings.recover_on_start is True


def test_busy_timeout_and_recovery_from_ini_and_environment(tmp_path: Path) -> None:
    ini = write(tmp_path, "[database]\nbusy_timeout = 2.5\n\n[glimpse]\nrecover_on_start = false\n")
    settings = load_settings(ini, env={}, data_dir=tmp_path)
    assert (settings.database_busy_timeout, settings.recover_on_start) == (2.5, False)
    assert load_settings(ini, env={"GLIMPSE_DATABASE_BUSY_TIMEOUT": "1"}, data_dir=tmp_path).database_busy_timeout == 1


def test_negative_busy_timeout(tmp_path: Path) -> None:
    with pytest.raises(pydantic.ValidationError):
        load_settings(env={"GLIMPSE_DATABASE_BUSY_TIMEOUT": "-1"}, data_dir=tmp_path)
