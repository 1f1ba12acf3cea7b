"""glimpse.settings.masking: every configured secret is found, and masked when the settings are printed."""

from __future__ import annotations

import json
from pathlib import Path

from glimpse.settings import SecretUrl, load_settings
from tests.unit.settings.support import write


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
