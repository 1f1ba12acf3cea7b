"""A live HTTP server for the fuzzer: uvicorn serving the real app on a free loopback port, token auth."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from glimpse.app import create_app
from glimpse.auth.tokens import add_token
from glimpse.container import build_services
from glimpse.settings import load_settings


@dataclass(frozen=True)
class LiveServer:
    url: str
    token: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[LiveServer]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    settings = load_settings(env={}, data_dir=data_dir, database_url=database_url, auth="tokens")
    assert settings.token_file is not None
    token = add_token(settings.token_file, "fuzzer", "fuzz", ["member", "reader"])
    services = build_services(settings)
    port = _free_port()
    config = uvicorn.Config(create_app(settings, services), host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the fuzz server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", token=token)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        services.close()
