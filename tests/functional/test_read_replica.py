"""[database] slave_connection against a real PostgreSQL streaming replica (scripts/pg-replica-up).

Which server answered a read is shown by its data: with the replica's replay paused, the replica is stale
and the primary is not, so an image written after the pause is seen only where the primary answered. Each
caller has a client of its own (its own cookie jar), as distinct users do.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from glimpse.api.written import COOKIE
from glimpse.container import Services
from glimpse.settings import Settings, load_settings
from tests.conftest import running_services
from tests.functional.conftest import ALICE, BOB, CAROL_READER, OCTET, PATCH21
from tests.pgreplica import ReplicaControl

WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|MERGE|CREATE|ALTER|DROP|TRUNCATE|LOCK)\b", re.IGNORECASE)
DAVE_READER = {"X-User-Id": "dave", "X-Project-Id": "alpha", "X-Roles": "reader"}


def replica_settings(tmp_path: Path, primary: str, replica: str, **options: Any) -> Settings:
    """No bound on the lag unless a test sets one: how long a paused replica stays stale is the test's."""
    options.setdefault("database_replica_max_lag", 0)
    return load_settings(
        env={"GLIMPSE_DATABASE_SLAVE_URL": replica},
        data_dir=tmp_path / "data",
        database_url=primary,
        auth="noauth",
        **options,
    )


class Node:
    """One API process (its app and services) and a client of its own for each caller."""

    def __init__(self, client: TestClient, services: Services) -> None:
        self.app, self.services = client.app, services
        self._clients: dict[str, TestClient] = {}

    def __call__(self, headers: dict[str, str]) -> TestClient:
        key = repr(sorted(headers.items()))
        if key not in self._clients:
            self._clients[key] = TestClient(self.app, headers={"accept": "text/plain", **headers})
        return self._clients[key]


@contextmanager
def node(settings: Settings) -> Iterator[Node]:
    with running_services(settings) as (client, services):
        yield Node(client, services)


@pytest.fixture
def served(tmp_path: Path, pg_replica: ReplicaControl) -> Iterator[Node]:
    with node(replica_settings(tmp_path, pg_replica.primary_url, pg_replica.url)) as one:
        yield one


def create(client: TestClient, name: str) -> str:
    response = client.post("/v2/images", json={"name": name, "disk_format": "raw", "container_format": "bare"})
    assert response.status_code == 201, response.text
    image_id: str = response.json()["id"]
    return image_id


def names(client: TestClient) -> list[str]:
    response = client.get("/v2/images?sort=name:asc")
    assert response.status_code == 200, response.text
    return [image["name"] for image in response.json()["images"]]


def reads(served: Node) -> dict[tuple[str, str], int]:
    """glimpse_db_reads_total by (server, reason), as /metrics shows them."""
    text = served(ALICE).get("/metrics").text
    found = re.findall(r'^glimpse_db_reads_total\{reason="(\w*)",server="(\w+)"\} (\d+)', text, re.MULTILINE)
    return {(server, reason): int(float(count)) for reason, server, count in found}


def statements(engine: sa.Engine) -> list[str]:
    """Every statement the engine sends from now on (an observer, not a double: the statements still run)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    return seen


def test_lists_and_shows_come_from_the_replica(served: Node, pg_replica: ReplicaControl) -> None:
    alice, carol = served(ALICE), served(CAROL_READER)
    create(alice, "before")
    pg_replica.caught_up()
    with pg_replica.paused():
        late = create(alice, "while paused")
        # carol (alice's project) reads from the replica: it has not replayed the second image yet
        assert names(carol) == ["before"]
        assert carol.get(f"/v2/images/{late}").status_code == 404
    pg_replica.caught_up()
    assert names(carol) == ["before", "while paused"]
    assert carol.get(f"/v2/images/{late}").json()["name"] == "while paused"


def test_a_caller_reads_its_own_changes_while_the_replica_lags(served: Node, pg_replica: ReplicaControl) -> None:
    alice, carol = served(ALICE), served(CAROL_READER)
    kept = create(alice, "kept")
    doomed = create(alice, "doomed")
    pg_replica.caught_up()
    with pg_replica.paused():
        late = create(alice, "late")
        rename = [{"op": "replace", "path": "/name", "value": "renamed"}]
        assert alice.patch(f"/v2/images/{kept}", json=rename, headers=PATCH21).status_code == 200
        assert alice.put(f"/v2/images/{late}/file", content=b"x" * 10, headers=OCTET).status_code == 204
        assert alice.delete(f"/v2/images/{doomed}").status_code == 204
        # alice sees every change she made at once ...
        assert names(alice) == ["late", "renamed"]
        shown = alice.get(f"/v2/images/{late}").json()
        assert (shown["status"], shown["size"]) == ("active", 10)
        assert alice.get(f"/v2/images/{doomed}").status_code == 404
        # ... while carol, in the same project, reads the lagging replica
        assert names(carol) == ["doomed", "kept"]
        assert carol.get(f"/v2/images/{late}").status_code == 404
        assert reads(served) == {("primary", "behind"): 3, ("replica", ""): 2}
    pg_replica.caught_up()
    assert names(carol) == ["late", "renamed"]


def test_member_lists_and_shows_follow_the_same_rules(served: Node, pg_replica: ReplicaControl) -> None:
    alice, bob = served(ALICE), served(BOB)
    image_id = alice.post("/v2/images", json={"name": "shared", "visibility": "shared"}).json()["id"]
    pg_replica.caught_up()
    with pg_replica.paused():
        assert alice.post(f"/v2/images/{image_id}/members", json={"member": "beta"}).status_code == 200
        # alice, who shared it, sees the new member at once
        assert [m["member_id"] for m in alice.get(f"/v2/images/{image_id}/members").json()["members"]] == ["beta"]
        assert alice.get(f"/v2/images/{image_id}/members/beta").status_code == 200
        # bob reads the replica, which has not replayed the membership yet
        assert bob.get(f"/v2/images/{image_id}/members/beta").status_code == 404
    pg_replica.caught_up()
    assert bob.get(f"/v2/images/{image_id}/members/beta").json()["status"] == "pending"


def test_a_client_brings_its_changes_to_another_process_in_a_cookie(tmp_path: Path, pg_replica: ReplicaControl) -> None:
    settings = replica_settings(tmp_path, pg_replica.primary_url, pg_replica.url)
    with node(settings) as first, node(settings) as second, pg_replica.paused():
        written = first(ALICE).post("/v2/images", json={"name": "made on the first"})
        assert written.status_code == 201
        assert first(ALICE).cookies.get(COOKIE)  # where the change ends, for any process
        image_id = written.json()["id"]
        # the second process never saw alice's change: without the cookie it reads the paused replica
        assert second(ALICE).get(f"/v2/images/{image_id}").status_code == 404
        # a client keeping its cookies brings it back, wherever its next request lands
        second(ALICE).cookies = first(ALICE).cookies
        assert second(ALICE).get(f"/v2/images/{image_id}").status_code == 200
        # a request that changes nothing sets no cookie
        assert COOKIE not in second(CAROL_READER).get("/v2/images").cookies


def test_a_replica_lagging_more_than_max_lag_serves_no_one(tmp_path: Path, pg_replica: ReplicaControl) -> None:
    settings = replica_settings(tmp_path, pg_replica.primary_url, pg_replica.url, database_replica_max_lag=0.5)
    with node(settings) as one, pg_replica.paused():
        create(one(ALICE), "fresh")
        time.sleep(0.6)  # the change is now older than max_lag, and the paused replica still lacks it
        assert names(one(CAROL_READER)) == ["fresh"]
        assert names(one(DAVE_READER)) == ["fresh"]


def test_writes_never_go_to_the_replica(served: Node, pg_replica: ReplicaControl) -> None:
    alice = served(ALICE)
    assert served.services.db.replica is not None
    on_replica = statements(served.services.db.replica.engine)
    with pg_replica.paused():
        image_id = create(alice, "written")
        patch = [{"op": "add", "path": "/os_distro", "value": "debian"}]
        assert alice.patch(f"/v2/images/{image_id}", json=patch, headers=PATCH21).status_code == 200
        assert alice.put(f"/v2/images/{image_id}/tags/t1").status_code == 204
        assert alice.put(f"/v2/images/{image_id}/file", content=b"x" * 1000, headers=OCTET).status_code == 204
        member = alice.post(f"/v2/images/{image_id}/members", json={"member": "beta"})
        assert member.status_code == 200, member.text
        doomed = create(alice, "doomed")
        assert alice.delete(f"/v2/images/{doomed}").status_code == 204
        assert names(served(CAROL_READER)) == []  # the reads went to the (paused) replica
        # every write is on the primary and none on the replica
        with pg_replica.primary.connect() as conn:
            row = conn.execute(sa.text("SELECT status, size FROM images WHERE id = :id"), {"id": image_id}).one()
        assert tuple(row) == ("active", 1000)
        with pg_replica.replica.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM images")).scalar_one() == 0
    assert on_replica, "no read reached the replica"
    assert not [statement for statement in on_replica if WRITES.match(statement)]


def test_reads_fall_back_to_the_primary_when_the_replica_stops(served: Node, pg_replica: ReplicaControl) -> None:
    alice, carol = served(ALICE), served(CAROL_READER)
    first = create(alice, "first")
    pg_replica.caught_up()
    assert names(carol) == ["first"]  # the replica's pool now holds connections
    assert carol.get("/healthcheck").json()["replica"]["status"] == "ok"
    pg_replica.stop()
    second = create(alice, "second")  # only the primary has it: the replica is gone
    assert names(carol) == ["first", "second"]
    for image_id in (first, second):
        assert carol.get(f"/v2/images/{image_id}").status_code == 200
    assert reads(served) == {("replica", ""): 1, ("primary", "unavailable"): 3}
    # the node stays healthy: its reads have the primary
    health = carol.get("/healthcheck")
    assert (health.status_code, health.json()["status"]) == (200, "ok")
    assert health.json()["replica"] == {
        "status": "error",
        "duration_ms": health.json()["replica"]["duration_ms"],
        "detail": "The read replica is unavailable; reads go to the primary.",
    }


def test_a_replica_that_never_answers_costs_nothing(tmp_path: Path, clean_db: str) -> None:
    if not clean_db.startswith("postgresql"):
        pytest.skip("a read replica is a PostgreSQL standby: GLIMPSE_TEST_DB=postgresql runs this")
    dead = "postgresql+psycopg://postgres@127.0.0.1:9/nothing"  # nothing listens on the discard port
    with node(replica_settings(tmp_path, clean_db, dead)) as one:
        alice = one(ALICE)
        image_id = create(alice, "only on the primary")
        assert names(alice) == ["only on the primary"]
        assert alice.get(f"/v2/images/{image_id}").status_code == 200
