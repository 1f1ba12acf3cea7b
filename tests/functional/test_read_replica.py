"""[database] slave_connection against a real PostgreSQL streaming replica (scripts/pg-replica-up).

Which server answered a read is shown by its data: with the replica's replay paused, the replica is stale
and the primary is not, so an image written after the pause is seen only where the primary answered.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from glimpse.container import Services
from glimpse.settings import Settings, load_settings
from tests.conftest import running_services
from tests.functional.conftest import ALICE, CAROL_READER, OCTET, PATCH21
from tests.pgreplica import ReplicaControl

WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|MERGE|CREATE|ALTER|DROP|TRUNCATE|LOCK)\b", re.IGNORECASE)


def replica_settings(tmp_path: Path, primary: str, replica: str, **options: Any) -> Settings:
    return load_settings(
        env={"GLIMPSE_DATABASE_SLAVE_URL": replica},
        data_dir=tmp_path / "data",
        database_url=primary,
        auth="noauth",
        **options,
    )


@pytest.fixture
def served(tmp_path: Path, pg_replica: ReplicaControl) -> Iterator[tuple[TestClient, Services]]:
    with running_services(replica_settings(tmp_path, pg_replica.primary_url, pg_replica.url)) as pair:
        yield pair


def create(client: TestClient, headers: dict[str, str], name: str) -> str:
    response = client.post("/v2/images", json={"name": name, "disk_format": "raw", "container_format": "bare"},
                           headers=headers)  # fmt: skip
    assert response.status_code == 201, response.text
    image_id: str = response.json()["id"]
    return image_id


def names(client: TestClient, headers: dict[str, str]) -> list[str]:
    response = client.get("/v2/images?sort=name:asc", headers=headers)
    assert response.status_code == 200, response.text
    return [image["name"] for image in response.json()["images"]]


def statements(engine: sa.Engine) -> list[str]:
    """Every statement the engine sends from now on (an observer, not a double: the statements still run)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    return seen


def test_lists_and_shows_come_from_the_replica(served: tuple[TestClient, Services], pg_replica: ReplicaControl) -> None:
    client, _services = served
    create(client, ALICE, "before")
    pg_replica.caught_up()
    with pg_replica.paused():
        late = create(client, ALICE, "while paused")
        # carol (alice's project) reads from the replica: it has not replayed the second image yet
        assert names(client, CAROL_READER) == ["before"]
        assert client.get(f"/v2/images/{late}", headers=CAROL_READER).status_code == 404
    pg_replica.caught_up()
    assert names(client, CAROL_READER) == ["before", "while paused"]
    assert client.get(f"/v2/images/{late}", headers=CAROL_READER).json()["name"] == "while paused"


def test_a_caller_reads_its_own_changes_while_the_replica_lags(
    served: tuple[TestClient, Services], pg_replica: ReplicaControl
) -> None:
    client, _services = served
    kept = create(client, ALICE, "kept")
    doomed = create(client, ALICE, "doomed")
    pg_replica.caught_up()
    with pg_replica.paused():
        late = create(client, ALICE, "late")
        rename = [{"op": "replace", "path": "/name", "value": "renamed"}]
        assert client.patch(f"/v2/images/{kept}", json=rename, headers={**ALICE, **PATCH21}).status_code == 200
        assert client.put(f"/v2/images/{late}/file", content=b"x" * 10, headers={**ALICE, **OCTET}).status_code == 204
        assert client.delete(f"/v2/images/{doomed}", headers=ALICE).status_code == 204
        # alice sees every change she made at once ...
        assert names(client, ALICE) == ["late", "renamed"]
        shown = client.get(f"/v2/images/{late}", headers=ALICE).json()
        assert (shown["status"], shown["size"]) == ("active", 10)
        assert client.get(f"/v2/images/{doomed}", headers=ALICE).status_code == 404
        # ... while carol, in the same project, reads the lagging replica
        assert names(client, CAROL_READER) == ["doomed", "kept"]
        assert client.get(f"/v2/images/{late}", headers=CAROL_READER).status_code == 404
    pg_replica.caught_up()
    assert names(client, CAROL_READER) == ["late", "renamed"]


def test_a_replica_lagging_more_than_max_lag_serves_no_one(tmp_path: Path, pg_replica: ReplicaControl) -> None:
    settings = replica_settings(tmp_path, pg_replica.primary_url, pg_replica.url, database_replica_max_lag=0.5)
    with running_services(settings) as (client, _services), pg_replica.paused():
        create(client, ALICE, "fresh")
        time.sleep(0.6)  # the change is now older than max_lag, and the paused replica still lacks it
        assert names(client, CAROL_READER) == ["fresh"]
        assert names(client, {"X-User-Id": "dave", "X-Project-Id": "alpha", "X-Roles": "reader"}) == ["fresh"]


def test_writes_never_go_to_the_replica(served: tuple[TestClient, Services], pg_replica: ReplicaControl) -> None:
    client, services = served
    assert services.db.replica is not None
    on_replica = statements(services.db.replica.engine)
    with pg_replica.paused():
        image_id = create(client, ALICE, "written")
        patch = [{"op": "add", "path": "/os_distro", "value": "debian"}]
        assert client.patch(f"/v2/images/{image_id}", json=patch, headers={**ALICE, **PATCH21}).status_code == 200
        assert client.put(f"/v2/images/{image_id}/tags/t1", headers=ALICE).status_code == 204
        assert (
            client.put(f"/v2/images/{image_id}/file", content=b"x" * 1000, headers={**ALICE, **OCTET}).status_code
            == 204
        )
        member = client.post(f"/v2/images/{image_id}/members", json={"member": "beta"}, headers=ALICE)
        assert member.status_code == 200, member.text
        doomed = create(client, ALICE, "doomed")
        assert client.delete(f"/v2/images/{doomed}", headers=ALICE).status_code == 204
        assert names(client, CAROL_READER) == []  # the reads went to the (paused) replica
        # every write is on the primary and none on the replica
        with pg_replica.primary.connect() as conn:
            row = conn.execute(sa.text("SELECT status, size FROM images WHERE id = :id"), {"id": image_id}).one()
        assert tuple(row) == ("active", 1000)
        with pg_replica.replica.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM images")).scalar_one() == 0
    assert on_replica, "no read reached the replica"
    assert not [statement for statement in on_replica if WRITES.match(statement)]


def test_reads_fall_back_to_the_primary_when_the_replica_stops(
    served: tuple[TestClient, Services], pg_replica: ReplicaControl
) -> None:
    client, _services = served
    first = create(client, ALICE, "first")
    pg_replica.caught_up()
    assert names(client, CAROL_READER) == ["first"]  # the replica's pool now holds connections
    pg_replica.stop()
    second = create(client, ALICE, "second")  # only the primary has it: the replica is gone
    assert names(client, CAROL_READER) == ["first", "second"]
    for image_id in (first, second):
        assert client.get(f"/v2/images/{image_id}", headers=CAROL_READER).status_code == 200


def test_a_replica_that_never_answers_costs_nothing(tmp_path: Path, clean_db: str) -> None:
    if not clean_db.startswith("postgresql"):
        pytest.skip("a read replica is a PostgreSQL standby: GLIMPSE_TEST_DB=postgresql runs this")
    dead = "postgresql+psycopg://postgres@127.0.0.1:9/nothing"  # nothing listens on the discard port
    with running_services(replica_settings(tmp_path, clean_db, dead)) as (client, _services):
        image_id = create(client, ALICE, "only on the primary")
        assert names(client, ALICE) == ["only on the primary"]
        assert client.get(f"/v2/images/{image_id}", headers=ALICE).status_code == 200
