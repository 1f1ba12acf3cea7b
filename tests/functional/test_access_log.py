"""The access line of every request and the request fields of other lines, as `log_format = json` writes them."""

from __future__ import annotations

import io
import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from glimpse.auth.tokens import add_token
from glimpse.container import build_services
from glimpse.logs import JsonFormatter
from glimpse.settings import Settings, load_settings
from tests.conftest import make_client
from tests.functional.conftest import ALICE, OCTET


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Everything logged during the test, formatted by the JSON formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def entries(stream: io.StringIO, logger: str | None = None) -> list[dict[str, Any]]:
    parsed = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [entry for entry in parsed if logger is None or entry["logger"] == logger]


def test_access_line_fields(client: TestClient, json_lines: io.StringIO) -> None:
    response = client.get("/v2/images?limit=1", headers=ALICE)
    assert response.status_code == 200
    [entry] = entries(json_lines, "glimpse.access")
    assert entry["level"] == "INFO"
    assert entry["request_id"] == response.headers["x-openstack-request-id"]
    assert (entry["user"], entry["project"]) == ("alice", "alpha")
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/v2/images", 200)
    assert isinstance(entry["duration_ms"], float)
    assert entry["timestamp"]


def test_public_paths_have_no_user(client: TestClient, json_lines: io.StringIO) -> None:
    client.get("/versions")
    [entry] = entries(json_lines, "glimpse.access")
    assert entry["path"] == "/versions"
    assert "user" not in entry
    assert "project" not in entry


def test_lines_logged_inside_a_request_carry_its_id(
    client: TestClient, settings: Settings, json_lines: io.StringIO
) -> None:
    image = client.post("/v2/images", json={"disk_format": "raw", "container_format": "bare"}, headers=ALICE).json()
    shutil.rmtree(settings.stores["local"].options.filesystem_store_datadir)
    response = client.put(f"/v2/images/{image['id']}/file", content=b"data", headers={**OCTET, **ALICE})
    assert response.status_code == 502
    request_id = response.headers["x-openstack-request-id"]
    [failed] = [entry for entry in entries(json_lines) if entry["level"] == "ERROR"]
    assert failed["logger"] == "glimpse.api.errors"
    assert (failed["request_id"], failed["user"], failed["project"]) == (request_id, "alice", "alpha")
    upload_line = entries(json_lines, "glimpse.access")[-1]
    assert (upload_line["status"], upload_line["request_id"]) == (502, request_id)


def test_tokens_are_never_logged(
    tmp_path: Path, clean_db: str, json_lines: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="tokens")
    assert settings.token_file is not None
    token = add_token(settings.token_file, "alice", "alpha", ["member", "reader"])
    services = build_services(settings)
    try:
        with make_client(settings, services) as client, caplog.at_level(logging.DEBUG):
            assert client.get("/v2/images", headers={"X-Auth-Token": token}).status_code == 200
            assert client.get("/v2/images", headers={"X-Auth-Token": token + "x"}).status_code == 401
            assert client.get("/v2/images", headers={"Authorization": f"Bearer {token}"}).status_code in (200, 401)
    finally:
        services.close()
    statuses = [(entry["status"], entry.get("user")) for entry in entries(json_lines, "glimpse.access")]
    assert statuses[:2] == [(200, "alice"), (401, None)]
    assert token not in json_lines.getvalue()
    assert token not in caplog.text
