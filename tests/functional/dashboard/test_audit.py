"""The dashboard's requests are in the access log and the audit log as the API's are: the same request id in
the response, the person its session names, the action under /dashboard, and a refused sign-in recorded too."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.functional.dashboard.conftest import Browser


def audit(web: TestClient, **query: str) -> list[dict[str, Any]]:
    response = web.get("/v2/audit", params=query)  # noauth: a bare request is the admin
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["audit"]
    return entries


def test_a_dashboard_change_is_audited_with_the_person_and_request_id(
    web: TestClient, alice: Browser, caplog: pytest.LogCaptureFixture
) -> None:
    created = alice.post("/dashboard/images", {"name": "from-the-page", "disk_format": "raw",
                                               "container_format": "bare", "visibility": "private"})  # fmt: skip
    assert created.status_code == 303, created.text
    image_id = created.headers["location"].rstrip("/").rsplit("/", 1)[-1]
    alice.get(created.headers["location"])
    with caplog.at_level(logging.INFO, logger="glimpse.access"):
        deleted = alice.post(f"/dashboard/images/{image_id}/delete")
    assert deleted.status_code == 303, deleted.text
    request_id = deleted.headers["x-openstack-request-id"]
    [line] = [r.getMessage() for r in caplog.records if request_id in r.getMessage()]
    assert line.startswith(f"POST /dashboard/images/{image_id}/delete 303 ")
    assert "user=alice project=alpha" in line

    entries = audit(web, project_id="alpha")
    by_action = {entry["action"]: entry for entry in entries}
    delete = by_action["POST /dashboard/images/{image_id}/delete"]
    assert (delete["user_id"], delete["project_id"], delete["request_id"], delete["target"], delete["outcome"]) == (
        "alice", "alpha", request_id, image_id, "success")  # fmt: skip
    assert delete["path"] == f"/dashboard/images/{image_id}/delete"
    assert by_action["POST /dashboard/images"]["status"] == 303


def test_a_post_without_its_csrf_token_is_audited_as_refused(web: TestClient, alice: Browser) -> None:
    alice.csrf = "not-the-token"
    refused = alice.post("/dashboard/images", {"name": "x"})
    assert refused.status_code == 403
    [entry] = [
        e for e in audit(web, project_id="alpha") if e["request_id"] == refused.headers["x-openstack-request-id"]
    ]
    assert (entry["action"], entry["outcome"]) == ("POST /dashboard/images", "denied")
