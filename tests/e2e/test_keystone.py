"""Keystone authentication end to end: a real Keystone (scripts/keystone-up), a real `glimpse serve` configured
as a glance-api.conf would be (``[paste_deploy] flavor = keystone`` and ``[keystone_authtoken]``), and real
clients signing in with passwords: openstacksdk, the `openstack` CLI, and plain HTTP for the edge cases.

The accounts are the ones scripts/keystone_accounts.py creates: ``<project>-<role>`` users of projects
alpha and beta, and the service user ``glimpse`` (role ``service`` on project ``service``).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openstack.connection
import pytest
import redis
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from openstack import exceptions
from prometheus_client.parser import text_string_to_metric_families

from glimpse.auth.keystone import REDIS_PREFIX, Codec
from tests import clis
from tests.e2e.conftest import KEYSTONE_SERVER_KEY, GlimpseServer, launch, stays_healthy
from tests.serverproc import VENV_BIN, new_database
from tests.serverproc import server_env as _server_env
from tests.serverproc import stop as _stop

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
KEYSTONE_UP = ROOT / "scripts" / "keystone-up"
KEYSTONE_URL = "http://127.0.0.1:5000"
CHALLENGE = f'Keystone uri="{KEYSTONE_URL}"'
USER_PASSWORD = "glimpse-test-password"  # scripts/keystone_accounts.py
SERVICE_USER, SERVICE_PASSWORD, SERVICE_PROJECT = "glimpse", "glimpse-service-password", "service"
OPENSTACK = str(VENV_BIN / "openstack")
REDIS_URL = os.environ.get("GLIMPSE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CACHE_SECRET = "e2e-cache-secret"

GLANCE_API_CONF = """\
[paste_deploy]
flavor = keystone

[keystone_authtoken]
www_authenticate_uri = {keystone}
auth_url = {auth_url}
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = glimpse
password = glimpse-service-password
interface = public
service_token_roles = service
service_token_roles_required = true
http_connect_timeout = 5
http_request_max_retries = 0
{extra}
"""
REDIS_OPTIONS = f"""\
memcached_servers = {REDIS_URL}
memcache_security_strategy = ENCRYPT
memcache_secret_key = {CACHE_SECRET}
"""


@dataclass
class KeystoneServer(GlimpseServer):
    config: Path = Path()
    env: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="session")
def keystone() -> str:
    """The Keystone of scripts/keystone-up (started, or reused when it already runs), with the test accounts."""
    started = subprocess.run(
        [str(KEYSTONE_UP)], capture_output=True, text=True, timeout=900, check=False, stdin=subprocess.DEVNULL
    )
    if started.returncode != 0:
        pytest.fail(f"scripts/keystone-up failed ({started.returncode}):\n{started.stderr[-4000:]}", pytrace=False)
    return KEYSTONE_URL


@contextmanager
def keystone_server(
    factory: pytest.TempPathFactory, name: str, *, auth_url: str = KEYSTONE_URL, extra: str = ""
) -> Iterator[KeystoneServer]:
    """`glimpse serve --config glance-api.conf` in keystone mode, with its own data directory and database."""
    root = factory.mktemp(f"e2e-{name}")
    data_dir, home = root / "data", root / "home"
    home.mkdir()
    config = root / "glance-api.conf"
    config.write_text(GLANCE_API_CONF.format(keystone=KEYSTONE_URL, auth_url=auth_url, extra=extra))
    with new_database(root, prefix=f"glimpse_e2e_{name}") as database_url:
        env = _server_env(data_dir, database_url, home)
        state = KeystoneServer(url="", tokens={}, log_file=root / "server.log", home=home, config=config, env=env)
        try:
            launch(state, env, config)
            yield state
        finally:
            if state.process is not None:
                _stop(state.process)


@pytest.fixture(scope="module")
def ks_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, keystone: str
) -> Iterator[KeystoneServer]:
    with keystone_server(tmp_path_factory, "keystone") as state:
        request.config.stash[KEYSTONE_SERVER_KEY] = state
        try:
            yield state
        finally:
            del request.config.stash[KEYSTONE_SERVER_KEY]


@pytest.fixture(autouse=True)
def _server_stays_healthy(ks_server: KeystoneServer) -> Iterator[None]:
    """Replaces the conftest's check of the shared token-auth server: these tests use their own servers."""
    with stays_healthy(ks_server):
        yield


# -- clients ------------------------------------------------------------------------------------------------
def password_session(user: str, project: str, password: str = USER_PASSWORD) -> ks_session.Session:
    auth = v3.Password(
        auth_url=f"{KEYSTONE_URL}/v3",
        username=user,
        password=password,
        project_name=project,
        user_domain_name="Default",
        project_domain_name="Default",
    )
    return ks_session.Session(auth=auth, timeout=30)


def fresh_token(user: str, project: str, password: str = USER_PASSWORD) -> str:
    """A token Glimpse has never seen (fernet tokens differ at every issue)."""
    token = password_session(user, project, password).get_token()
    assert token is not None
    return token


@pytest.fixture(scope="module")
def sdk(ks_server: KeystoneServer) -> Iterator[Callable[[str], Any]]:
    """``sdk("alpha-member")`` -> an openstacksdk Connection signed in with that user's password; the image
    endpoint is this test's server, everything else comes from Keystone's catalog."""
    connections: dict[str, Any] = {}

    def get(user: str) -> Any:
        if user not in connections:
            connections[user] = openstack.connection.Connection(
                auth_type="password",
                auth={
                    "auth_url": f"{KEYSTONE_URL}/v3",
                    "username": user,
                    "password": USER_PASSWORD,
                    "project_name": user.split("-")[0],
                    "user_domain_name": "Default",
                    "project_domain_name": "Default",
                },
                region_name="RegionOne",
                interface="public",
                image_endpoint_override=ks_server.url,
            )
        return connections[user]

    yield get
    for conn in connections.values():
        conn.close()


def openstack_cli(server: GlimpseServer, user: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`openstack ARGS` as USER (password from the environment, as an openrc file would set it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(
        HOME=str(server.home),
        XDG_CACHE_HOME=str(server.home / ".cache"),
        OS_AUTH_URL=f"{KEYSTONE_URL}/v3",
        OS_IDENTITY_API_VERSION="3",
        OS_USERNAME=user,
        OS_PASSWORD=USER_PASSWORD,
        OS_PROJECT_NAME=user.split("-")[0],
        OS_USER_DOMAIN_NAME="Default",
        OS_PROJECT_DOMAIN_NAME="Default",
        OS_REGION_NAME="RegionOne",
        OS_INTERFACE="public",
        OS_IMAGE_ENDPOINT_OVERRIDE=server.url,
    )
    result = clis.run([OPENSTACK, *args], env=env, timeout=120)
    if check and result.returncode != 0:
        pytest.fail(
            f"openstack {' '.join(args)} exited with {result.returncode}\nstdout:\n{result.stdout}\n"
            f"stderr:\n{result.stderr}",
            pytrace=False,
        )
    return result


def validations(server: GlimpseServer) -> dict[tuple[str, str], float]:
    """glimpse_auth_token_validations_total by (source, result), from the server's /metrics."""
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    return {
        (sample.labels["source"], sample.labels["result"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "glimpse_auth_token_validations_total"
    }


def get(server: GlimpseServer, path: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{server.url}{path}", headers={k.replace("_", "-"): v for k, v in headers.items()}, timeout=30)


# -- the clients, as members, readers and another project ----------------------------------------------------
def test_sdk_member_reader_manager_and_another_project(sdk: Callable[[str], Any], unique: str) -> None:
    member = sdk("alpha-member")
    data = os.urandom(1 << 20)
    name = f"ks-sdk-{unique}"
    created = member.image.create_image(
        name=name, data=data, disk_format="raw", container_format="bare", visibility="private", validate_checksum=False
    )
    image = member.image.get_image(created.id)
    assert (image.status, image.size, image.visibility) == ("active", len(data), "private")
    assert image.owner == member.current_project_id  # Keystone's project id, not its name
    assert member.image.download_image(image).content == data
    assert [i.id for i in member.image.images(name=name)] == [image.id]

    reader = sdk("alpha-reader")
    assert [i.id for i in reader.image.images(name=name)] == [image.id]
    assert reader.image.get_image(image.id).name == name
    with pytest.raises(exceptions.ForbiddenException):
        reader.image.create_image(name=f"{name}-reader", disk_format="raw", container_format="bare")

    manager = sdk("alpha-manager")  # manager implies member and reader in the token's roles
    assert manager.image.get_image(image.id).id == image.id

    other = sdk("beta-member")
    with pytest.raises(exceptions.NotFoundException):
        other.image.get_image(image.id)
    assert [i.id for i in other.image.images(name=name)] == []


def test_openstack_cli(ks_server: KeystoneServer, tmp_path: Path, unique: str) -> None:
    source, target = tmp_path / "cli.img", tmp_path / "saved.img"
    source.write_bytes(os.urandom(256 * 1024))
    name = f"ks-cli-{unique}"
    created = json.loads(
        openstack_cli(
            ks_server, "alpha-member", "image", "create", "--disk-format", "raw", "--container-format", "bare",
            "--private", "--file", str(source), name, "-f", "json",
        ).stdout
    )  # fmt: skip
    assert created["status"] == "active"
    listed = json.loads(openstack_cli(ks_server, "alpha-reader", "image", "list", "--name", name, "-f", "json").stdout)
    assert [row["ID"] for row in listed] == [created["id"]]
    shown = json.loads(openstack_cli(ks_server, "alpha-reader", "image", "show", created["id"], "-f", "json").stdout)
    assert (shown["name"], shown["size"]) == (name, source.stat().st_size)
    openstack_cli(ks_server, "alpha-member", "image", "save", "--file", str(target), created["id"])
    assert target.read_bytes() == source.read_bytes()
    refused = openstack_cli(
        ks_server, "alpha-reader", "image", "create", "--disk-format", "raw", "--container-format", "bare",
        f"{name}-reader", check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "403" in refused.stdout + refused.stderr


# -- 401s ---------------------------------------------------------------------------------------------------
def test_missing_bad_and_revoked_tokens_are_401(ks_server: KeystoneServer) -> None:
    missing = get(ks_server, "/v2/images")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == CHALLENGE

    bad = get(ks_server, "/v2/images", x_auth_token="gAAAAABnot-a-real-token", accept="application/json")
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"] == CHALLENGE
    assert bad.json()["code"] == "401 Unauthorized"

    token = fresh_token("alpha-member", "alpha")
    revoked = httpx.delete(
        f"{KEYSTONE_URL}/v3/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token}, timeout=30
    )
    assert revoked.status_code == 204
    after = get(ks_server, "/v2/images", x_auth_token=token)
    assert after.status_code == 401
    assert after.headers["www-authenticate"] == CHALLENGE


# -- service tokens -------------------------------------------------------------------------------------------
def test_service_token_roles(ks_server: KeystoneServer) -> None:
    """GET /v2/info/stores/detail is for admins and services: a member alone gets 403, the same member with
    the glimpse service user's token as X-Service-Token gets 200."""
    member = fresh_token("alpha-member", "alpha")
    service = fresh_token(SERVICE_USER, SERVICE_PROJECT, SERVICE_PASSWORD)
    assert get(ks_server, "/v2/info/stores/detail", x_auth_token=member).status_code == 403
    with_service = get(ks_server, "/v2/info/stores/detail", x_auth_token=member, x_service_token=service)
    assert with_service.status_code == 200, with_service.text
    assert with_service.json()["stores"]
    # a valid token without the service role, and an invalid one, are both refused as service tokens
    not_service = fresh_token("alpha-manager", "alpha")
    for bogus in (not_service, "gAAAAABnot-a-real-token"):
        refused = get(ks_server, "/v2/info/stores/detail", x_auth_token=member, x_service_token=bogus)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == CHALLENGE


# -- the token cache ------------------------------------------------------------------------------------------
def test_second_request_is_answered_from_the_cache(ks_server: KeystoneServer) -> None:
    token = fresh_token("alpha-reader", "alpha")
    before = validations(ks_server)
    for _ in range(3):
        assert get(ks_server, "/v2/images", x_auth_token=token).status_code == 200
    after = validations(ks_server)

    def delta(key: tuple[str, str]) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta(("keystone", "valid")) == 1
    assert delta(("cache", "valid")) == 2


def test_redis_cache_is_shared_and_encrypted(tmp_path_factory: pytest.TempPathFactory, keystone: str) -> None:
    """With memcached_servers = redis://...: the entry lands in Redis (encrypted, keyed by a keyed digest), and a
    restarted server answers the same token from Redis without asking Keystone."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"Redis does not answer at {REDIS_URL} (set GLIMPSE_TEST_REDIS_URL): {exc}", pytrace=False)
    token = fresh_token("beta-member", "beta")
    key = REDIS_PREFIX + Codec("encrypt", CACHE_SECRET).key(token)
    try:
        with keystone_server(tmp_path_factory, "keystone_redis", extra=REDIS_OPTIONS) as server:
            with stays_healthy(server):
                assert get(server, "/v2/images", x_auth_token=token).status_code == 200
                assert validations(server).get(("keystone", "valid")) == 1
            entry: Any = client.get(key)
            assert entry is not None
            assert b"member" not in entry  # encrypted
            ttl_ms: Any = client.pttl(key)
            assert 0 < ttl_ms <= 300_000

            assert server.process is not None
            _stop(server.process)
            launch(server, server.env, server.config)
            with stays_healthy(server):
                assert get(server, "/v2/images", x_auth_token=token).status_code == 200
                counts = validations(server)
                assert counts.get(("cache", "valid")) == 1
                assert counts.get(("keystone", "valid"), 0.0) == 0
    finally:
        client.delete(key)
        client.close()


# -- Keystone unreachable ---------------------------------------------------------------------------------------
def test_keystone_unreachable_is_503(tmp_path_factory: pytest.TempPathFactory, keystone: str) -> None:
    token = fresh_token("alpha-member", "alpha")
    with keystone_server(tmp_path_factory, "keystone_down", auth_url="http://127.0.0.1:9") as server:
        with stays_healthy(server):  # a warning, no ERROR and no traceback
            response = get(server, "/v2/images", x_auth_token=token)
        assert response.status_code == 503
        assert "www-authenticate" not in response.headers
        assert "Keystone service is temporarily unavailable" in response.text
        assert get(server, "/v2/images").status_code == 401  # no token: nothing to ask Keystone
