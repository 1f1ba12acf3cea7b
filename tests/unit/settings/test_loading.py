"""glimpse.settings.loading: the INI file with Glance's names, GLIMPSE_* variables, and their precedence."""

from __future__ import annotations

import logging
from pathlib import Path

import pydantic
import pytest

from glimpse.settings import FilesystemStoreOptions, load_settings
from tests.unit.settings.support import write


# -- the INI file ----------------------------------------------------------------------------------------------
def test_ini_with_glance_names(tmp_path: Path) -> None:
    ini = write(
        tmp_path,
        """
[DEFAULT]
bind_host = 0.0.0.0
bind_port = 9393
workers = 4
image_size_cap = 1000
max_request_body_size = 2048
hashing_algorithm = sha256
limit_param_default = 10
api_limit_max = 50
image_property_quota = 5
image_tag_quota = 6
image_member_quota = 7
image_location_quota = 8
show_image_direct_url = true
show_multiple_locations = True
public_endpoint = https://images.example.com
debug = true

[image_format]
disk_formats = raw, qcow2 ,  iso
container_formats = bare

[database]
connection = postgresql+psycopg://u:secret@db/glance

[paste_deploy]
flavor = keystone

[keystone_authtoken]
auth_url = http://keystone.example.com:5000
username = glance
password = secret
project_name = service

[glimpse]
log_level = DEBUG
auto_migrate = false
""",
    )
    settings = load_settings(ini, env={}, data_dir=tmp_path)
    assert (settings.host, settings.port, settings.workers) == ("0.0.0.0", 9393, 4)
    assert settings.image_size_cap == 1000
    assert settings.max_request_body_size == 2048
    assert settings.hashing_algorithm == "sha256"
    assert (settings.limit_param_default, settings.api_limit_max) == (10, 50)
    assert (settings.image_property_quota, settings.image_tag_quota) == (5, 6)
    assert (settings.image_member_quota, settings.image_location_quota) == (7, 8)
    assert settings.show_image_direct_url is True
    assert settings.show_multiple_locations is True
    assert settings.public_endpoint == "https://images.example.com"
    assert settings.disk_formats == ["raw", "qcow2", "iso"]
    assert settings.container_formats == ["bare"]
    assert settings.database_url.get_secret_value() == "postgresql+psycopg://u:secret@db/glance"
    assert settings.auth == "keystone"
    assert settings.log_level == "DEBUG"
    assert settings.auto_migrate is False


def test_ini_paste_deploy_without_keystone_is_noauth(tmp_path: Path) -> None:
    ini = write(tmp_path, "[paste_deploy]\nflavor =\n")
    assert load_settings(ini, env={}, data_dir=tmp_path).auth == "noauth"


def test_ini_multiple_stores(tmp_path: Path) -> None:
    ini = write(
        tmp_path,
        """
[DEFAULT]
enabled_backends = fast:file, cheap:file

[glance_store]
default_backend = cheap

[fast]
store_description = Fast
weight = 100
filesystem_store_datadir = /srv/fast

[cheap]
filesystem_store_file_perm = 0640
""",
    )
    settings = load_settings(ini, env={}, data_dir=tmp_path)
    assert list(settings.stores) == ["fast", "cheap"]
    assert settings.default_backend == "cheap"
    fast = settings.stores["fast"]
    assert (fast.id, fast.type, fast.description, fast.weight) == ("fast", "file", "Fast", 100)
    assert fast.options == FilesystemStoreOptions(filesystem_store_datadir=Path("/srv/fast"))
    cheap = settings.stores["cheap"]
    assert (cheap.description, cheap.weight) == ("", 0)
    assert cheap.options == FilesystemStoreOptions(filesystem_store_datadir=tmp_path / "stores" / "cheap")


def test_ini_first_store_is_the_default_default(tmp_path: Path) -> None:
    ini = write(tmp_path, "[DEFAULT]\nenabled_backends = one:file, two:file\n")
    assert load_settings(ini, env={}, data_dir=tmp_path).default_backend == "one"


def test_ini_import_filtering_and_task_options(tmp_path: Path) -> None:
    ini = write(
        tmp_path,
        "[import_filtering_opts]\nallowed_hosts = 127.0.0.1\nallowed_ports =\n"
        "[glimpse]\nworker_in_process = false\ntask_heartbeat_interval = 0.25\ntask_stale_after = 3\n"
        "task_max_attempts = 1\n",
    )
    settings = load_settings(ini, env={}, data_dir=tmp_path)
    assert (settings.import_allowed_hosts, settings.import_allowed_ports) == (["127.0.0.1"], [])
    assert settings.worker_in_process is False
    assert (settings.task_heartbeat_interval, settings.task_stale_after, settings.task_max_attempts) == (0.25, 3.0, 1)


def test_ini_single_store_glance_api_conf(tmp_path: Path) -> None:
    ini = write(tmp_path, "[glance_store]\nfilesystem_store_datadir = /var/lib/glance/images/\n")
    settings = load_settings(ini, env={}, data_dir=tmp_path)
    assert list(settings.stores) == ["file"]
    assert settings.default_backend == "file"
    assert settings.stores["file"].options.filesystem_store_datadir == Path("/var/lib/glance/images/")


def test_ini_unknown_options_are_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ini = write(tmp_path, "[DEFAULT]\nbogus_option = 1\n[keystone_authtoken]\ndelay_auth_decision = true\n")
    with caplog.at_level(logging.WARNING, logger="glimpse.settings"):
        load_settings(ini, env={}, data_dir=tmp_path)
    messages = [record.getMessage() for record in caplog.records]
    assert any("[DEFAULT] bogus_option" in message for message in messages)
    assert any("[keystone_authtoken] delay_auth_decision" in message for message in messages)


def test_ini_default_backend_must_be_enabled(tmp_path: Path) -> None:
    ini = write(tmp_path, "[DEFAULT]\nenabled_backends = fast:file\n[glance_store]\ndefault_backend = slow\n")
    with pytest.raises(pydantic.ValidationError, match="default_backend 'slow' is not in enabled_backends"):
        load_settings(ini, env={}, data_dir=tmp_path)


def test_config_file_from_environment(tmp_path: Path) -> None:
    ini = write(tmp_path, "[DEFAULT]\nbind_port = 9999\n")
    assert load_settings(env={"GLIMPSE_CONFIG": str(ini)}, data_dir=tmp_path).port == 9999


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "nope.conf", env={})


# -- environment -----------------------------------------------------------------------------------------------
def test_environment_variables(tmp_path: Path) -> None:
    env = {
        "GLIMPSE_DATA_DIR": str(tmp_path / "env-data"),
        "GLIMPSE_DATABASE_URL": "sqlite:////tmp/x.db",
        "GLIMPSE_AUTH": "noauth",
        "GLIMPSE_TOKEN_FILE": str(tmp_path / "t.json"),
        "GLIMPSE_HOST": "::1",
        "GLIMPSE_PORT": "1234",
        "GLIMPSE_WORKERS": "3",
        "GLIMPSE_LOG_LEVEL": "WARNING",
        "GLIMPSE_IMAGE_SIZE_CAP": "42",
        "GLIMPSE_HASHING_ALGORITHM": "sha3_256",
        "GLIMPSE_API_LIMIT_MAX": "9",
        "GLIMPSE_PUBLIC_ENDPOINT": "http://public",
    }
    settings = load_settings(env=env)
    assert settings.data_dir == tmp_path / "env-data"
    assert settings.database_url.get_secret_value() == "sqlite:////tmp/x.db"
    assert settings.auth == "noauth"
    assert settings.token_file == tmp_path / "t.json"
    assert (settings.host, settings.port, settings.workers) == ("::1", 1234, 3)
    assert settings.log_level == "WARNING"
    assert settings.image_size_cap == 42
    assert settings.hashing_algorithm == "sha3_256"
    assert settings.api_limit_max == 9
    assert settings.public_endpoint == "http://public"


def test_environment_stores(tmp_path: Path) -> None:
    env = {"GLIMPSE_ENABLED_BACKENDS": "fast:file, cheap", "GLIMPSE_DEFAULT_BACKEND": "cheap"}
    settings = load_settings(env=env, data_dir=tmp_path)
    assert list(settings.stores) == ["fast", "cheap"]
    assert settings.stores["cheap"].type == "file"
    assert settings.default_backend == "cheap"
    assert settings.stores["fast"].options.filesystem_store_datadir == tmp_path / "stores" / "fast"


def test_empty_environment_values_are_ignored(tmp_path: Path) -> None:
    settings = load_settings(env={"GLIMPSE_PORT": "", "GLIMPSE_AUTH": ""}, data_dir=tmp_path)
    assert settings.port == 9292
    assert settings.auth == "tokens"


def test_precedence_ini_then_environment_then_overrides(tmp_path: Path) -> None:
    ini = write(tmp_path, "[DEFAULT]\nbind_port = 1111\nimage_size_cap = 10\napi_limit_max = 5\n")
    settings = load_settings(ini, env={"GLIMPSE_PORT": "2222", "GLIMPSE_IMAGE_SIZE_CAP": "20"}, image_size_cap=30)
    assert settings.port == 2222
    assert settings.image_size_cap == 30
    assert settings.api_limit_max == 5


def test_none_overrides_are_ignored(tmp_path: Path) -> None:
    assert load_settings(env={"GLIMPSE_PORT": "2222"}, data_dir=tmp_path, port=None).port == 2222


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GLIMPSE_PORT", "4321")
    monkeypatch.delenv("GLIMPSE_CONFIG", raising=False)
    assert load_settings(data_dir=tmp_path).port == 4321
