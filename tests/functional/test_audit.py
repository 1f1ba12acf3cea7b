"""The audit log in process: every state-changing request and every refused one is recorded (who, project,
roles, request id, action, target, outcome, time), admins read it through GET /v2/audit with filters and
paging, it is also written as JSON lines to a file, old entries are purged, and no token or secret is kept."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from glimpse.auth.tokens import add_token
from glimpse.container import Services
from glimpse.db.repositories.audit import AuditRepository
from glimpse.domain.audit import AuditEntry, AuditQuery
from glimpse.domain.clock import utcnow
from glimpse.settings import load_settings
from tests.conftest import running_services
from tests.functional.conftest import ALICE, BOB, PATCH21

TOKEN = "gAAAAA-a-token-that-must-never-be-kept"


@pytest.fixture
def app(tmp_path: Path, clean_db: str) -> Iterator[tuple[TestClient, Services]]:
    settings = load_settings(
        env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="noauth",
        audit_file=tmp_path / "audit" / "audit.jsonl", webhooks_enabled=True, import_allowed_hosts=["127.0.0.1"],
        import_allowed_ports=[],
    )  # fmt: skip
    with running_services(settings) as pair:
        yield pair


def audit(client: TestClient, **query: Any) -> dict[str, Any]:
    response = client.get("/v2/audit", params=query)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_changes_and_refusals_are_recorded_with_who_what_and_outcome(app: tuple[TestClient, Services]) -> None:
    client, _ = app
    created = client.post("/v2/images", json={"name": "a"}, headers={**ALICE, "X-Auth-Token": TOKEN})
    image_id = created.json()["id"]
    client.get(f"/v2/images/{image_id}", headers=ALICE)  # a read: not audited
    patched = client.patch(f"/v2/images/{image_id}", json=[{"op": "add", "path": "/x", "value": "1"}],
                           headers={**ALICE, **PATCH21})  # fmt: skip
    refused = client.patch(f"/v2/images/{image_id}", json=[{"op": "replace", "path": "/name", "value": "b"}],
                           headers={**BOB, **PATCH21})  # fmt: skip
    assert (patched.status_code, refused.status_code) == (200, 404)
    public = [{"op": "replace", "path": "/visibility", "value": "public"}]
    publicize = client.patch(f"/v2/images/{image_id}", json=public, headers={**ALICE, **PATCH21})
    assert publicize.status_code == 403
    assert client.get("/v2/audit", headers=ALICE).status_code == 403  # a read, refused: audited
    entries = audit(client, project_id="alpha")["audit"]
    assert [(e["action"], e["status"], e["outcome"]) for e in entries] == [
        ("GET /v2/audit", 403, "denied"),
        ("PATCH /v2/images/{image_id}", 403, "denied"),
        ("PATCH /v2/images/{image_id}", 200, "success"),
        ("POST /v2/images", 201, "success"),
    ]
    create = entries[-1]
    assert (create["user_id"], create["project_id"], create["roles"], create["method"]) == (
        "alice", "alpha", ["member", "reader"], "POST")  # fmt: skip
    assert create["request_id"] == created.headers["x-openstack-request-id"]
    assert entries[2]["target"] == image_id
    assert entries[2]["path"] == f"/v2/images/{image_id}"
    assert create["created_at"].endswith("Z")
    # bob's attempt on an image he cannot see: a failure (404), recorded under his project
    [bob] = audit(client, user_id="bob")["audit"]
    assert (bob["project_id"], bob["status"], bob["outcome"]) == ("beta", 404, "failure")


def test_filters_and_paging(app: tuple[TestClient, Services]) -> None:
    client, _ = app
    start = utcnow() - timedelta(seconds=1)
    ids = [client.post("/v2/images", json={"name": f"i{n}"}, headers=ALICE).json()["id"] for n in range(5)]
    client.delete(f"/v2/images/{ids[0]}", headers=ALICE)
    assert [e["target"] for e in audit(client, target=ids[0])["audit"]] == [ids[0]]
    assert [e["method"] for e in audit(client, method="DELETE")["audit"]] == ["DELETE"]
    assert len(audit(client, action="POST /v2/images", outcome="success")["audit"]) == 5
    assert audit(client, since=(utcnow() + timedelta(hours=1)).isoformat() + "Z")["audit"] == []
    assert len(audit(client, since=start.isoformat(), until=(utcnow() + timedelta(hours=1)).isoformat())["audit"]) == 6
    first = audit(client, project_id="alpha", limit=4)
    assert len(first["audit"]) == 4
    rest = client.get(first["next"]).json()
    assert len(rest["audit"]) == 2
    assert "next" not in rest
    seen = [e["id"] for e in first["audit"] + rest["audit"]]
    assert len(set(seen)) == 6
    for bad in ({"limit": "x"}, {"since": "yesterday"}, {"marker": "nope"}, {"colour": "red"}):
        assert client.get("/v2/audit", params=bad).status_code == 400


def test_json_lines_file_and_no_token_or_secret_anywhere(app: tuple[TestClient, Services], tmp_path: Path) -> None:
    client, services = app
    hook = client.post("/v2/webhooks", json={"url": "http://127.0.0.1:9/h"}, headers={**ALICE, "X-Auth-Token": TOKEN})
    assert hook.status_code == 201
    secret = hook.json()["secret"]
    entries = audit(client, action="POST /v2/webhooks")["audit"]
    assert [e["outcome"] for e in entries] == ["success"]
    path = tmp_path / "audit" / "audit.jsonl"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not path.exists():
        time.sleep(0.05)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert any(line["id"] == entries[0]["id"] and line["action"] == "POST /v2/webhooks" for line in lines)
    stored = services.db.run_sync(lambda s: AuditRepository(s).search(AuditQuery(), 100))
    everything = path.read_text() + repr(stored)
    assert TOKEN not in everything
    assert secret not in everything


def test_old_entries_are_purged_after_the_retention(tmp_path: Path, clean_db: str) -> None:
    settings = load_settings(env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="noauth",
                             audit_retention_days=30, worker_in_process=False)  # fmt: skip  # no sweep of its own
    with running_services(settings) as (client, services):
        old = AuditEntry(
            id="old", created_at=utcnow() - timedelta(days=31), request_id="req-old", user_id="u", project_id="p",
            roles=("member",), method="POST", action="POST /v2/images", path="/v2/images", target=None, status=201,
            outcome="success",
        )  # fmt: skip
        services.db.run_sync(lambda s: AuditRepository(s).add_many([old]))
        client.post("/v2/images", json={"name": "new"}, headers=ALICE)
        assert {e["id"] for e in audit(client)["audit"]} >= {"old"}
        assert client.portal.call(services.audit.purge) == 1  # type: ignore[union-attr]
        assert "old" not in {e["id"] for e in audit(client)["audit"]}
        assert len(audit(client, action="POST /v2/images")["audit"]) == 1


def test_off_when_disabled(tmp_path: Path, clean_db: str) -> None:
    settings = load_settings(env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="noauth",
                             audit_enabled=False)  # fmt: skip
    with running_services(settings) as (client, _):
        client.post("/v2/images", json={"name": "unrecorded"}, headers=ALICE)
        assert audit(client)["audit"] == []


def test_an_unauthenticated_request_is_recorded_without_its_token(tmp_path: Path, clean_db: str) -> None:
    settings = load_settings(env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="tokens",
                             audit_file=tmp_path / "audit.jsonl")  # fmt: skip
    assert settings.token_file is not None
    admin = add_token(settings.token_file, "root", "admin", ["admin", "member", "reader"])
    token = add_token(settings.token_file, "alice", "alpha", ["member", "reader"])
    with running_services(settings) as (client, services):
        assert client.get("/v2/images", headers={"X-Auth-Token": token + "x"}).status_code == 401
        assert client.post("/v2/images", json={}, headers={"X-Auth-Token": token}).status_code == 201
        entries = client.get("/v2/audit", headers={"X-Auth-Token": admin}).json()["audit"]
        stored = repr(services.db.run_sync(lambda s: AuditRepository(s).search(AuditQuery(), 100)))
    assert [(e["action"], e["user_id"], e["outcome"]) for e in entries] == [
        ("POST /v2/images", "alice", "success"), ("GET /v2/images", None, "denied")]  # fmt: skip
    for token_ in (token, admin):
        assert token_ not in stored
        assert token_ not in (tmp_path / "audit.jsonl").read_text()
