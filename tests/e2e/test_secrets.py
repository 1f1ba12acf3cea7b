"""No configured secret ever shows: `glimpse settings show`, the log of a live server doing work (and failing
at it, with the stores and Keystone refusing the keys it was given, Redis refusing its password), and the
output of a command that cannot reach its database.

Each secret has a known value; every byte those processes write is searched for it, and for its %-encoded
form where it sits inside a URL. The servers log at DEBUG, so the libraries' own request logs are read too.
"""

from __future__ import annotations

import http.client
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.e2e.test_keystone import KEYSTONE_URL, keystone  # noqa: F401 (the fixture starts Keystone)
from tests.serverproc import GLIMPSE, backend, free_port, new_database, server_env, spawn, stop, wait_for_root

SWIFT = "http://127.0.0.1:8080"
SECRETS = {
    "s3_store_secret_key": "S3-secret-6a1f09",
    "swift_store_key": "swift-secret-77c2e1",
    "keystone password": "ks-password-3b9d44",
    "memcache_secret_key": "memcache-key-90ab12",
    "redis password": "redis-pw/5e8f@21",  # '/' and '@': %-encoded inside the URL
    "oslo_limit password": "limits-pw-c0ffee",
    "glance_download_token": "download-token-d00d5",
    "database password": "db-pw:71aa@x",
}
CONFIG = """\
[DEFAULT]
enabled_backends = local:file, s3:s3, sw:swift
debug = true

[glimpse]
auth = {auth}
log_level = DEBUG
glance_download_token = {glance_download_token}

[glance_store]
default_backend = local

[s3]
s3_store_host = {swift}
s3_store_access_key = glimpse:glimpse
s3_store_secret_key = {s3_store_secret_key}
s3_store_bucket = glimpse-secrets-test
s3_store_create_bucket_on_put = true
s3_store_bucket_url_format = path

[sw]
swift_store_auth_address = {swift}/auth/v1.0
swift_store_auth_version = 1
swift_store_user = glimpse:glimpse
swift_store_key = {swift_store_key}
swift_store_container = glimpse-secrets-test
swift_store_create_container_on_put = true

[keystone_authtoken]
auth_url = {keystone}
www_authenticate_uri = {keystone}
username = glimpse
password = {keystone_password}
project_name = service
user_domain_name = Default
project_domain_name = Default
http_connect_timeout = 5
http_request_max_retries = 0
memcached_servers = redis://:{redis_password}@127.0.0.1:6379/0
memcache_security_strategy = ENCRYPT
memcache_secret_key = {memcache_secret_key}

[oslo_limit]
auth_url = {keystone}
username = glimpse
password = {oslo_limit_password}
"""


def forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote(secret)}


def assert_no_secret(text: str, where: str) -> None:
    for name, secret in SECRETS.items():
        for form in forms(secret):
            assert form not in text, f"{name} ({form!r}) shows in {where}"


def write_config(path: Path, auth: str) -> Path:
    path.write_text(
        CONFIG.format(
            auth=auth,
            swift=SWIFT,
            keystone=KEYSTONE_URL,
            **{name.replace(" ", "_"): value for name, value in SECRETS.items() if name != "redis password"},
            redis_password=quote(SECRETS["redis password"], safe=""),
        )
    )
    return path


def with_password(url: str) -> str:
    """The test database's URL with the database password in it (PostgreSQL trusts 127.0.0.1 and ignores it)."""
    scheme, _, rest = url.partition("//")
    user, _, host = rest.partition("@")
    return f"{scheme}//{user}:{quote(SECRETS['database password'], safe='')}@{host}"


def request(port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def create(port: int, headers: dict[str, str]) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/v2/images", body=b'{"disk_format": "raw", "container_format": "bare"}', headers=headers)
        image_id: str = json.loads(conn.getresponse().read())["id"]
        return image_id
    finally:
        conn.close()


@pytest.fixture(autouse=True)
def _server_stays_healthy() -> None:
    """Replaces the conftest's check of the shared server: these servers fail on purpose, and log it."""


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    home = tmp_path / "home"
    home.mkdir()
    with new_database(tmp_path, "glimpse_secrets") as database_url:
        url = with_password(database_url) if backend() == "postgresql" else database_url
        yield server_env(tmp_path / "data", url, home)


def test_settings_show_masks_every_secret(tmp_path: Path, env: dict[str, str]) -> None:
    config = write_config(tmp_path / "glance-api.conf", "noauth")
    env = {**env, "GLIMPSE_DATABASE_URL": f"postgresql://glance:{quote(SECRETS['database password'], safe='')}@db/g"}
    shown = subprocess.run(
        [GLIMPSE, "settings", "show", "--config", str(config)], env=env, capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    assert_no_secret(shown.stdout + shown.stderr, "glimpse settings show")
    settings = json.loads(shown.stdout)
    assert settings["database_url"] == "postgresql://glance:***@db/g"
    assert settings["stores"]["s3"]["options"]["s3_store_secret_key"] == "***"
    assert settings["stores"]["sw"]["options"]["swift_store_key"] == "***"
    keystone_section = settings["keystone_authtoken"]
    assert (keystone_section["password"], keystone_section["memcache_secret_key"]) == ("***", "***")
    assert keystone_section["memcached_servers"] == ["redis://:***@127.0.0.1:6379/0"]
    assert settings["oslo_limit"]["password"] == "***"
    assert settings["glance_download_token"] == "***"


def test_a_working_and_failing_server_logs_no_secret(tmp_path: Path, env: dict[str, str]) -> None:
    """noauth: an upload that works, uploads the S3 and Swift stores refuse (wrong keys), the health check
    that probes them; then keystone mode: Keystone refuses the service password and Redis its password."""
    log_file = tmp_path / "server.log"
    port = free_port()
    process = spawn(port, env, log_file, config=write_config(tmp_path / "noauth.conf", "noauth"))
    try:
        assert wait_for_root(process, port) == 300, log_file.read_text()
        headers = {"Content-Type": "application/json"}
        octet = {"Content-Type": "application/octet-stream"}
        for store, expected in (("local", 204), ("s3", None), ("sw", None)):
            image_id = create(port, headers)
            store_header = {**octet, "X-Image-Meta-Store": store}
            status = request(port, "PUT", f"/v2/images/{image_id}/file", b"x" * 4096, store_header)
            if expected is not None:
                assert status == expected
            else:
                assert status >= 500, store  # the store refused the key
        assert request(port, "GET", "/healthcheck") == 503
        # a client that sends a secret gets it into the access log, masked: the filter is on in this server
        assert request(port, "GET", f"/v2/images/{SECRETS['s3_store_secret_key']}") == 404
        alice = {"X-User-Id": SECRETS["swift_store_key"], "X-Project-Id": "alpha", "X-Roles": "reader"}
        assert request(port, "GET", "/v2/images", headers=alice) == 200
    finally:
        stop(process)
    assert "GET /v2/images/*** 404" in log_file.read_text()
    assert "user=*** project=alpha" in log_file.read_text()

    keystone_log = tmp_path / "keystone-server.log"
    port = free_port()
    process = spawn(port, env, keystone_log, config=write_config(tmp_path / "keystone.conf", "keystone"))
    try:
        assert wait_for_root(process, port) == 300, keystone_log.read_text()
        for _ in range(2):
            token = {"X-Auth-Token": "gAAAAA-not-a-real-token"}
            assert request(port, "GET", "/v2/images", headers=token) in (401, 503)
            assert request(port, "GET", f"/v2/images/{SECRETS['keystone password']}", headers=token) in (401, 503)
    finally:
        stop(process)
    assert "GET /v2/images/*** " in keystone_log.read_text()

    for path in (log_file, keystone_log):
        text = path.read_text(encoding="utf-8", errors="replace")
        assert "DEBUG" in text  # the libraries' request logs were on
        assert_no_secret(text, path.name)
    assert "Swift" in log_file.read_text() or "swift" in log_file.read_text()


def test_a_command_that_cannot_reach_its_database_does_not_print_the_password(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    unreachable = f"postgresql://glance:{quote(SECRETS['database password'], safe='')}@127.0.0.1:9/glance"
    env = server_env(tmp_path / "data", unreachable, home)
    for command in (["db", "upgrade"], ["db", "check"], ["fsck"]):
        run = subprocess.run([GLIMPSE, *command], env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode != 0, command
        assert_no_secret(run.stdout + run.stderr, f"glimpse {' '.join(command)}")
    log_file = tmp_path / "server.log"
    process = spawn(free_port(), env, log_file)
    try:
        process.wait(timeout=120)  # the start fails: the database cannot be migrated
    finally:
        stop(process)
    text = log_file.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" in text or "Error" in text
    assert_no_secret(text, "the log of a server that cannot reach its database")
