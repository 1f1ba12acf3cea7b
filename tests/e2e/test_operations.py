"""A real `glimpse serve` with `log_format = json`: every line it writes is one JSON object, and the
operations endpoints (/healthcheck, /metrics) answer without a token."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import GlimpseServer
from tests.serverproc import free_port, new_database, server_env, spawn, stop, wait_for_root


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_json_logs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    log_file = tmp_path / "server.log"
    with new_database(tmp_path, "glimpse_jsonlog") as database_url:
        env = server_env(tmp_path / "data", database_url, home)
        env.update(GLIMPSE_AUTH="noauth", GLIMPSE_LOG_FORMAT="json")
        port = free_port()
        process = spawn(port, env, log_file)
        try:
            assert wait_for_root(process, port) == 300, log_file.read_text()
            alice = {"X-User-Id": "alice", "X-Project-Id": "alpha", "X-Roles": "member"}
            assert get(port, "/v2/images", alice)[0] == 200
            assert get(port, "/healthcheck")[0] == 200
        finally:
            stop(process)
    lines = log_file.read_text().splitlines()
    assert lines
    parsed: list[dict[str, Any]] = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}")
    assert {"timestamp", "level", "logger", "message"} <= set(parsed[0])
    assert any(entry["logger"].startswith("uvicorn") for entry in parsed)
    access = [entry for entry in parsed if entry["logger"] == "glimpse.access"]
    listing = next(entry for entry in access if entry["path"] == "/v2/images")
    assert (listing["method"], listing["status"], listing["user"], listing["project"]) == ("GET", 200, "alice", "alpha")
    assert listing["request_id"].startswith("req-")
    assert listing["duration_ms"] >= 0


def test_health_and_metrics_need_no_token(server: GlimpseServer) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    status, body = get(port, "/healthcheck")
    assert status == 200
    health = json.loads(body)
    assert health["status"] == "ok"
    assert health["stores"]
    status, body = get(port, "/metrics")
    assert status == 200
    assert b'glimpse_http_requests_total{method="GET",route="/healthcheck",status="200"}' in body
    assert get(port, "/v2/images")[0] == 401
