"""glimpse.settings: defaults, the INI file with Glance's names, GLIMPSE_* variables, validation."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pydantic
import pytest

from glimpse.settings import (
    DEFAULT_CONTAINER_FORMATS,
    DEFAULT_DISK_FORMATS,
    Env,
    FilesystemStoreOptions,
    HttpStoreOptions,
    Ini,
    RbdStoreOptions,
    S3StoreOptions,
    SecretUrl,
    Settings,
    StoreSettings,
    SwiftStoreOptions,
    load_settings,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "glimpse.conf"
    path.write_text(text)
    return path


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


# -- masking ---------------------------------------------------------------------------------------------------
def test_masked_hides_database_password(tmp_path: Path) -> None:
    settings = load_settings(
        env={"GLIMPSE_DATABASE_URL": "postgresql://glance:s3cret@db:5432/glance"}, data_dir=tmp_path
    )
    shown = settings.masked()
    assert shown["database_url"] == "postgresql://glance:***@db:5432/glance"
    assert "s3cret" not in str(shown)
    assert shown["port"] == 9292


def test_masked_leaves_urls_without_password(tmp_path: Path) -> None:
    for url in ("postgresql://glance@db/glance", f"sqlite:///{tmp_path}/x.db"):
        settings = load_settings(env={"GLIMPSE_DATABASE_URL": url}, data_dir=tmp_path)
        assert settings.masked()["database_url"] == url


# -- log format ------------------------------------------------------------------------------------------------
def test_log_format_defaults_to_text(tmp_path: Path) -> None:
    assert load_settings(env={}, data_dir=tmp_path).log_format == "text"


def test_log_format_from_environment_and_ini(tmp_path: Path) -> None:
    assert load_settings(env={"GLIMPSE_LOG_FORMAT": "json"}, data_dir=tmp_path).log_format == "json"
    ini = write(tmp_path, "[glimpse]\nlog_format = json\n")
    assert load_settings(ini, env={}, data_dir=tmp_path).log_format == "json"
    assert load_settings(ini, env={"GLIMPSE_LOG_FORMAT": "text"}, data_dir=tmp_path).log_format == "text"


@pytest.mark.parametrize(("use_json", "expected"), [("true", "json"), ("True", "json"), ("false", "text")])
def test_log_format_from_oslo_use_json(tmp_path: Path, use_json: str, expected: str) -> None:
    ini = write(tmp_path, f"[DEFAULT]\nuse_json = {use_json}\n")
    assert load_settings(ini, env={}, data_dir=tmp_path).log_format == expected


@pytest.mark.parametrize("order", ["glimpse-first", "default-first"])
def test_log_format_wins_over_use_json(tmp_path: Path, order: str) -> None:
    sections = ["[glimpse]\nlog_format = text\n", "[DEFAULT]\nuse_json = true\n"]
    ini = write(tmp_path, "".join(sections if order == "glimpse-first" else reversed(sections)))
    assert load_settings(ini, env={}, data_dir=tmp_path).log_format == "text"


def test_unknown_log_format(tmp_path: Path) -> None:
    with pytest.raises(pydantic.ValidationError):
        load_settings(env={"GLIMPSE_LOG_FORMAT": "xml"}, data_dir=tmp_path)


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


# -- option names on the fields --------------------------------------------------------------------------------
def test_every_ini_option_and_variable_names_one_field() -> None:
    ini = [
        (m.section, m.option) for info in Settings.model_fields.values() for m in info.metadata if isinstance(m, Ini)
    ]
    env = [m.name for info in Settings.model_fields.values() for m in info.metadata if isinstance(m, Env)]
    assert len(ini) == len(set(ini))
    assert len(env) == len(set(env))
    assert all(name.startswith("GLIMPSE_") for name in env)
    assert ("DEFAULT", "image_size_cap") in ini
    assert "GLIMPSE_IMAGE_SIZE_CAP" in env


def test_each_marked_option_is_read_from_its_section(tmp_path: Path) -> None:
    """Every field with an Ini marker takes a value from that section and option."""
    samples = {int: "7", float: "7.5", bool: "false", str: "sha256"}
    for name, info in Settings.model_fields.items():
        for marker in (m for m in info.metadata if isinstance(m, Ini)):
            kind = info.annotation
            if kind not in samples or name == "default_backend":  # (must name a store: tested above)
                continue
            raw = "sha256" if name == "hashing_algorithm" else samples[kind]
            ini = write(tmp_path, f"[{marker.section}]\n{marker.option} = {raw}\n")
            value = getattr(load_settings(ini, env={}, data_dir=tmp_path), name)
            assert value == pydantic.TypeAdapter(kind).validate_python(raw), (marker, name)


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


# -- secrets ---------------------------------------------------------------------------------------------------
ALL_SECRETS_INI = """
[DEFAULT]
enabled_backends = s3:s3, sw:swift

[database]
connection = postgresql://glance:db-pass%%40word@db/glance

[s3]
s3_store_host = h
s3_store_access_key = a
s3_store_secret_key = s3-secret-key
s3_store_bucket = b

[sw]
swift_store_auth_address = http://swift/auth/v1.0
swift_store_user = acc:usr
swift_store_key = swift-secret-key

[keystone_authtoken]
password = keystone-password
memcached_servers = redis://:redis-password@127.0.0.1:6379/2
memcache_secret_key = memcache-key

[oslo_limit]
password = limits-password

[glimpse]
glance_download_token = download-token
"""
CONFIGURED_SECRETS = [
    "db-pass%40word", "db-pass@word", "s3-secret-key", "swift-secret-key", "keystone-password", "redis-password",
    "memcache-key", "limits-password", "download-token",
]  # fmt: skip


def test_secrets_lists_every_configured_secret(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ALL_SECRETS_INI.replace("%%", "%")), env={}, data_dir=tmp_path)
    assert sorted(settings.secrets()) == sorted(CONFIGURED_SECRETS)


def test_masked_hides_every_secret(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ALL_SECRETS_INI.replace("%%", "%")), env={}, data_dir=tmp_path)
    shown = settings.masked()
    text = json.dumps(shown)
    for secret in CONFIGURED_SECRETS:
        assert secret not in text, secret
    assert shown["database_url"] == "postgresql://glance:***@db/glance"
    assert shown["stores"]["s3"]["options"]["s3_store_secret_key"] == "***"
    assert shown["stores"]["s3"]["options"]["s3_store_access_key"] == "a"  # not a secret
    assert shown["stores"]["sw"]["options"]["swift_store_key"] == "***"
    assert shown["keystone_authtoken"]["memcached_servers"] == ["redis://:***@127.0.0.1:6379/2"]
    assert shown["oslo_limit"]["password"] == "***"
    assert shown["glance_download_token"] == "***"
    assert "db-pass" not in repr(settings)
    assert "s3-secret-key" not in repr(settings)


def test_secret_url_masks_only_the_password() -> None:
    url = SecretUrl("postgresql+psycopg://glance:pw:with:colons@db:5432/glance?sslmode=require")
    assert str(url) == "postgresql+psycopg://glance:***@db:5432/glance?sslmode=require"
    assert url.get_secret_value().endswith("pw:with:colons@db:5432/glance?sslmode=require")
    assert str(SecretUrl("redis://cache:6379/0")) == "redis://cache:6379/0"


def test_artifacts_options_with_glare_names(tmp_path: Path) -> None:
    ini = write(
        tmp_path,
        """
[DEFAULT]
enabled_artifact_types = images, sample_artifact
default_api_limit = 10
max_api_limit = 100
max_blob_size = 2048
[artifacts]
bind_host = 0.0.0.0
bind_port = 9595
mount = /artifact
""",
    )
    settings = load_settings(ini, env={}, data_dir=tmp_path)
    assert settings.enabled_artifact_types == ["images", "sample_artifact"]
    assert (settings.default_api_limit, settings.max_api_limit, settings.max_blob_size) == (10, 100, 2048)
    assert (settings.artifacts_host, settings.artifacts_port) == ("0.0.0.0", 9595)
    assert settings.artifacts_mount == "/artifact"
    defaults = load_settings(env={}, data_dir=tmp_path)
    assert (defaults.artifacts_port, defaults.artifacts_mount, defaults.max_blob_size) == (9494, "", -1)


def test_artifact_quotas_and_type_sections_with_glare_names(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ini = write(
        tmp_path,
        """
[DEFAULT]
max_artifact_number = 150
max_uploaded_data = 10000
delayed_delete = true
[artifact_type:images]
max_uploaded_data = 15000
max_artifact_number = 30
[artifact_type:heat_templates]
delayed_delete = false
json_schema = x
""",
    )
    settings = load_settings(ini, env={}, data_dir=tmp_path)
    assert (settings.max_artifact_number, settings.max_uploaded_data, settings.delayed_delete) == (150, 10000, True)
    images, heat = settings.artifact_types["images"], settings.artifact_types["heat_templates"]
    assert (images.max_artifact_number, images.max_uploaded_data, images.delayed_delete) == (30, 15000, None)
    assert (heat.max_artifact_number, heat.max_uploaded_data, heat.delayed_delete) == (-1, -1, False)
    assert "ignoring unknown option [artifact_type:heat_templates] json_schema" in caplog.text
    defaults = load_settings(env={}, data_dir=tmp_path)
    assert (defaults.max_artifact_number, defaults.max_uploaded_data, defaults.artifact_types) == (-1, -1, {})
