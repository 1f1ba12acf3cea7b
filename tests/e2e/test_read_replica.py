"""A real client against `glimpse serve --workers 2` reading from a real streaming replica.

python-glanceclient (its requests session keeps cookies, as keystoneauth's does) writes and reads back at
once while the replica's replay is paused: every read of its own changes sees them, whichever of the two
worker processes answers; another caller reads the stale replica until it replays.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from glimpse.api.written import COOKIE
from tests.e2e.conftest import GlimpseServer, create_tokens, launch
from tests.pgreplica import exclusive, replica_url, up
from tests.serverproc import backend, new_database
from tests.serverproc import server_env as _server_env
from tests.serverproc import stop as _stop

pytestmark = pytest.mark.skipif(
    backend() != "postgresql", reason="a read replica is a PostgreSQL standby: GLIMPSE_TEST_DB=postgresql runs this"
)


@pytest.fixture(scope="module")
def replica_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GlimpseServer, str]]:
    """`glimpse serve` with two worker processes and [database] slave_connection, and its database's URL."""
    up()
    root = tmp_path_factory.mktemp("e2e-replica")
    home = root / "home"
    home.mkdir()
    with new_database(root, prefix="glimpse_e2e_replica") as url:
        env = _server_env(root / "data", url, home)
        # no lag bound: a paused replica stays stale however long a loaded machine takes over the test
        env.update(
            GLIMPSE_DATABASE_SLAVE_URL=replica_url(url), GLIMPSE_DATABASE_REPLICA_MAX_LAG="0", GLIMPSE_WORKERS="2"
        )
        state = GlimpseServer(url="", tokens=create_tokens(env, ("admin", "alpha")), log_file=root / "server.log",
                              home=home)  # fmt: skip
        try:
            launch(state, env)
            yield state, url
        finally:
            if state.process is not None:
                _stop(state.process)


@pytest.fixture
def glance(replica_server: tuple[GlimpseServer, str]) -> Callable[[str], Any]:
    import glanceclient  # type: ignore[import-untyped]

    server, _url = replica_server
    return lambda user: glanceclient.Client("2", endpoint=server.url, token=server.tokens[user])


def test_glanceclient_reads_its_own_changes_from_any_worker_while_the_replica_lags(
    replica_server: tuple[GlimpseServer, str], glance: Callable[[str], Any]
) -> None:
    _server, url = replica_server
    alice, admin = glance("alpha"), glance("admin")
    with exclusive(url) as replica, replica.paused():
        made = []
        for number in range(6):
            image = alice.images.create(name=f"lagging-{number}", disk_format="raw", container_format="bare")
            alice.images.upload(image["id"], io.BytesIO(b"x" * 1024), image_size=1024)
            shown = alice.images.get(image["id"])  # straight after the change, on either worker
            assert (shown["status"], shown["size"]) == ("active", 1024)
            made.append(image["id"])
        assert {image["id"] for image in alice.images.list()} >= set(made)
        assert COOKIE in alice.http_client.session.cookies
        # the admin has changed nothing: it reads the paused replica, which has none of them
        assert not {image["id"] for image in admin.images.list()} & set(made)
    replica.caught_up()
    assert {image["id"] for image in admin.images.list()} >= set(made)
