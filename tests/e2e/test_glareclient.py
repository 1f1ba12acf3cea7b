"""python-glareclient 0.5.3, the real client, against `glimpse artifacts serve` with Keystone auth: its `glare`
CLI and the `openstack artifact ...` commands it adds to python-openstackclient (create, update, tag, list with
filters, upload, activate, publish, delete), and its library for the download (the CLI's download is broken on
Python 3), each with a Keystone token of a real user (scripts/keystone-up's accounts).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from glareclient import client as glare_client

from tests import clis
from tests.e2e.conftest import KEYSTONE_SERVER_KEY, stays_healthy
from tests.e2e.test_keystone import (  # noqa: F401 (the keystone fixture starts Keystone)
    GLANCE_API_CONF,
    KEYSTONE_URL,
    USER_PASSWORD,
    KeystoneServer,
    fresh_token,
    keystone,
)
from tests.serverproc import GLIMPSE, VENV_BIN, free_port, new_database, server_env, stop, wait_for_root

GLARE = str(VENV_BIN / "glare")
OPENSTACK = str(VENV_BIN / "openstack")
ARTIFACTS_CONF = """\
[DEFAULT]
enabled_artifact_types = heat_templates, murano_packages, images
[artifact_type:murano_packages]
max_artifact_number = 3
"""


@pytest.fixture(scope="module")
def artifacts_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KeystoneServer]:
    """`glimpse artifacts serve` in keystone mode (its own data directory and database)."""
    request.getfixturevalue("keystone")
    root = tmp_path_factory.mktemp("e2e-glare")
    home = root / "home"
    home.mkdir()
    config = root / "glimpse.conf"
    config.write_text(GLANCE_API_CONF.format(keystone=KEYSTONE_URL, auth_url=KEYSTONE_URL, extra="") + ARTIFACTS_CONF)
    with new_database(root, prefix="glimpse_e2e_glare") as database_url:
        env = server_env(root / "data", database_url, home)
        state = KeystoneServer(url="", tokens={}, log_file=root / "server.log", home=home, config=config, env=env)
        request.config.stash[KEYSTONE_SERVER_KEY] = state
        try:
            start(state, env, config)
            yield state
        finally:
            del request.config.stash[KEYSTONE_SERVER_KEY]
            if state.process is not None:
                stop(state.process)


def start(state: KeystoneServer, env: dict[str, str], config: Path) -> None:
    """`glimpse artifacts serve` on a free port, until GET / answers (300, the versions)."""
    status: int | None = None
    for attempt in range(3):  # something else may take the free port before the server binds it
        port = free_port()
        state.url = f"http://127.0.0.1:{port}"
        with state.log_file.open("wb") as log:
            state.process = subprocess.Popen(
                [GLIMPSE, "artifacts", "serve", "--port", str(port), "--config", str(config)],
                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        status = wait_for_root(state.process, port)
        if status is not None or "address already in use" not in state.log_tail().lower() or attempt == 2:
            break
        stop(state.process)
    assert status == 300, f"GET / answered {status}, expected 300:\n{state.log_tail()}"


@pytest.fixture(autouse=True)
def _server_stays_healthy(artifacts_server: KeystoneServer) -> Iterator[None]:
    with stays_healthy(artifacts_server):
        yield


def _json(args: tuple[str, ...]) -> list[str]:
    """JSON output, for the commands that print something (a delete prints nothing and takes no -f)."""
    return [] if "delete" in args else ["-f", "json"]


def glare(server: KeystoneServer, token: str, *args: str, status: int = 0) -> Any:
    """The `glare` CLI with a token; its JSON output parsed (its error text when ``status`` is not 0)."""
    done = subprocess.run(
        [GLARE, "--os-glare-url", server.url, "--auth-token", token, *args, *_json(args)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, env=server.env,
    )  # fmt: skip
    assert done.returncode == status, f"glare {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return json.loads(done.stdout) if status == 0 and done.stdout.strip() else done.stdout + done.stderr


def openstack(server: KeystoneServer, user: str, project: str, *args: str, status: int = 0) -> Any:
    """`openstack artifact ...` signed in through Keystone with the user's password (the endpoint given as
    OS_GLARE_URL: Keystone's catalog has no artifact service here)."""
    env = {
        **server.env, "OS_AUTH_URL": f"{KEYSTONE_URL}/v3", "OS_USERNAME": user, "OS_PASSWORD": USER_PASSWORD,
        "OS_PROJECT_NAME": project, "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default",
        "OS_IDENTITY_API_VERSION": "3", "OS_GLARE_URL": server.url,
    }  # fmt: skip
    done = clis.run([OPENSTACK, *args, *_json(args)], env=env, timeout=120)
    assert done.returncode == status, f"openstack {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return json.loads(done.stdout) if status == 0 and done.stdout.strip() else done.stdout + done.stderr


def fields(rows: Any) -> dict[str, Any]:
    """An artifact as the CLI prints it (rows of Field, Value and Glare type; or one object) as a dict."""
    if isinstance(rows, dict):
        return rows
    return {row["Field"]: row["Value"] for row in rows}


def test_glare_cli_with_a_keystone_token(artifacts_server: KeystoneServer, tmp_path: Path) -> None:
    server = artifacts_server
    member = fresh_token("alpha-member", "alpha")
    admin = fresh_token("admin", "admin", "admin")
    web = fields(glare(server, member, "create", "heat_templates", "web", "-V", "1.0.0", "-p", "description=web"))
    assert (web["status"], web["visibility"], web["version"], web["owner"]) == (
        "drafted", "private", "1.0.0", web["owner"],
    )  # fmt: skip
    glare(server, member, "create", "heat_templates", "db", "-V", "2.0.0")
    # by name (the client finds the latest version), then by id
    updated = fields(glare(server, member, "update", "heat_templates", "web", "-p", "description=the web tier"))
    assert updated["description"] == "the web tier"
    tagged = fields(glare(server, member, "add-tag", "heat_templates", web["id"], "prod", "--id"))
    assert tagged["tags"] in (["prod"], "['prod']")

    def names(*filters: str) -> list[str]:
        listed = glare(server, member, "list", "heat_templates", *(arg for f in filters for arg in ("-F", f)))
        return sorted(row["Name"] for row in listed)

    assert names() == ["db", "web"]
    assert names("tags=prod") == ["web"]
    assert names("version=gte:2.0.0") == ["db"]
    assert names("name=in:web,db", "version=lt:2.0.0") == ["web"]

    template = tmp_path / "web.yaml"
    template.write_bytes(b"heat_template_version: 2018-08-31\nresources: {}\n" * 100)
    uploaded = glare(server, member, "upload", "heat_templates", "web", "--file", str(template), "-p", "template")
    blob = fields(uploaded)
    assert (blob["blob_property"], blob["size"], blob["status"]) == ("template", template.stat().st_size, "active")
    assert blob["sha256"] == hashlib.sha256(template.read_bytes()).hexdigest()
    assert fields(glare(server, member, "activate", "heat_templates", "web"))["status"] == "active"
    refused = glare(server, member, "publish", "heat_templates", "web", status=1)  # publishing is for admins
    assert "403" in refused or "Forbidden" in refused or "Policy" in refused
    published = fields(glare(server, admin, "publish", "heat_templates", web["id"], "--id"))
    assert published["visibility"] == "public"

    # the download through the library's stream (its wrapper's own iteration calls .next(), Python 2 only:
    # read the stream it wraps and check the Content-MD5 it kept, as the wrapper would)
    library = glare_client.Client("1", server.url, auth_token=member)
    stream = library.artifacts.download_blob(web["id"], "template", type_name="heat_templates")
    data = b"".join(stream.iter)
    assert data == template.read_bytes()
    assert (stream.hash_md5, int(stream.len)) == (hashlib.md5(data).hexdigest(), len(data))

    other = fresh_token("beta-member", "beta")
    assert fields(glare(server, other, "show", "heat_templates", web["id"], "--id"))["visibility"] == "public"
    glare(server, other, "delete", "heat_templates", web["id"], "--id", status=1)  # not the owner
    glare(server, admin, "delete", "heat_templates", web["id"], "--id")
    glare(server, member, "show", "heat_templates", web["id"], "--id", status=1)


def test_openstack_artifact_commands_with_a_password(artifacts_server: KeystoneServer) -> None:
    server = artifacts_server
    created = fields(openstack(server, "beta-member", "beta", "artifact", "create", "murano_packages", "pkg",
                               "-V", "0.1"))  # fmt: skip
    assert created["version"] == "0.1.0"
    updated = fields(openstack(server, "beta-member", "beta", "artifact", "update", "murano_packages", "pkg",
                               "-V", "0.1", "-p", "display_name=Package"))  # fmt: skip
    assert updated["display_name"] == "Package"
    listed = openstack(server, "beta-member", "beta", "artifact", "list", "murano_packages", "-F", "name=pkg")
    assert [row["Id"] for row in listed] == [created["id"]]
    # the type's quota: max_artifact_number = 3 in [artifact_type:murano_packages]
    for name in ("pkg2", "pkg3"):
        openstack(server, "beta-member", "beta", "artifact", "create", "murano_packages", name)
    refused = openstack(server, "beta-member", "beta", "artifact", "create", "murano_packages", "pkg4", status=1)
    assert "quota limit for artifact type 'murano_packages' is 3" in refused
    openstack(server, "beta-member", "beta", "artifact", "delete", "murano_packages", created["id"], "--id")
    openstack(server, "beta-member", "beta", "artifact", "create", "murano_packages", "pkg4")
