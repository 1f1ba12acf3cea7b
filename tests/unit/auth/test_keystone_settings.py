"""[keystone_authtoken] in the settings: keystonemiddleware's names from INI, GLIMPSE_KEYSTONE_* variables."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from glimpse.settings import KeystoneAuthSettings, load_settings

GLANCE_API_CONF = """
[paste_deploy]
flavor = keystone

[keystone_authtoken]
www_authenticate_uri = http://keystone.example.com:5000
auth_url = http://keystone.internal:5000
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = glance
password = top-secret
service_token_roles = service, nova-service
service_token_roles_required = true
memcached_servers = redis://:cache-secret@127.0.0.1:6379/2
memcache_security_strategy = ENCRYPT
memcache_secret_key = cache-key
token_cache_time = 120
interface = public
region_name = RegionOne
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "glance-api.conf"
    path.write_text(text)
    return path


def test_glance_api_conf_section(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, GLANCE_API_CONF), env={}, data_dir=tmp_path)
    assert settings.auth == "keystone"
    ks = settings.keystone_authtoken
    assert ks.www_authenticate_uri == "http://keystone.example.com:5000"
    assert ks.auth_url == "http://keystone.internal:5000"
    assert (ks.username, ks.project_name, ks.user_domain_name, ks.project_domain_name) == (
        "glance",
        "service",
        "Default",
        "Default",
    )
    assert ks.password is not None
    assert ks.password.get_secret_value() == "top-secret"
    assert ks.service_token_roles == ["service", "nova-service"]
    assert ks.service_token_roles_required is True
    assert [url.get_secret_value() for url in ks.memcached_servers] == ["redis://:cache-secret@127.0.0.1:6379/2"]
    assert ks.memcache_security_strategy == "encrypt"
    assert ks.token_cache_time == 120
    assert (ks.interface, ks.region_name) == ("public", "RegionOne")


def test_defaults() -> None:
    ks = KeystoneAuthSettings(auth_url="http://k:5000")
    assert ks.www_authenticate_uri == "http://k:5000"  # auth_url when not set
    assert ks.auth_type == "password"
    assert ks.service_token_roles == ["service"]
    assert ks.service_token_roles_required is True
    assert ks.token_cache_time == 300
    assert ks.memcached_servers == []
    assert ks.interface == "internal"


def test_keystone_needs_the_service_user(tmp_path: Path) -> None:
    with pytest.raises(pydantic.ValidationError, match="needs \\[keystone_authtoken\\] auth_url, username"):
        load_settings(write(tmp_path, "[paste_deploy]\nflavor = keystone\n"), env={}, data_dir=tmp_path)


def test_other_modes_ignore_an_incomplete_section(tmp_path: Path) -> None:
    ini = write(tmp_path, "[keystone_authtoken]\nusername = glance\n")
    assert load_settings(ini, env={}, data_dir=tmp_path, auth="tokens").keystone_authtoken.username == "glance"


def test_security_strategy_needs_a_secret() -> None:
    with pytest.raises(pydantic.ValidationError, match="memcache_secret_key"):
        KeystoneAuthSettings(memcache_security_strategy="MAC")


def test_unknown_auth_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(pydantic.ValidationError, match="auth_type"):
        load_settings(write(tmp_path, "[keystone_authtoken]\nauth_type = token\n"), env={}, data_dir=tmp_path)


def test_environment_wins_option_by_option(tmp_path: Path) -> None:
    env = {
        "GLIMPSE_KEYSTONE_PASSWORD": "from-env",
        "GLIMPSE_KEYSTONE_MEMCACHED_SERVERS": "redis://127.0.0.1:6379/0",
        "GLIMPSE_KEYSTONE_TOKEN_CACHE_TIME": "5",
    }
    ks = load_settings(write(tmp_path, GLANCE_API_CONF), env=env, data_dir=tmp_path).keystone_authtoken
    assert ks.password is not None
    assert ks.password.get_secret_value() == "from-env"
    assert [url.get_secret_value() for url in ks.memcached_servers] == ["redis://127.0.0.1:6379/0"]
    assert ks.token_cache_time == 5
    assert ks.username == "glance"  # the rest still comes from the file


def test_masked_hides_keystone_secrets(tmp_path: Path) -> None:
    masked = load_settings(write(tmp_path, GLANCE_API_CONF), env={}, data_dir=tmp_path).masked()
    ks = masked["keystone_authtoken"]
    assert ks["password"] == "***"
    assert ks["memcache_secret_key"] == "***"
    assert ks["memcached_servers"] == ["redis://:***@127.0.0.1:6379/2"]
    text = repr(masked)
    for secret in ("top-secret", "cache-secret", "cache-key"):
        assert secret not in text
