"""The fetch tests' fixtures: an HTTP and an HTTPS server, and an autouse guard that wraps the event loop's
``create_connection`` and ``socket.getaddrinfo``: it records every connection and lookup and refuses anything
that is not loopback, so a test of a refusal can assert that nothing was connected (and a bug could never reach
another machine).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.tls import Certificates, make_certificates
from tests.unit.services.fetch.support import Guard, LocalServer, _loopback, serve


@pytest.fixture
def server() -> Iterator[LocalServer]:
    yield from serve(LocalServer())


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    return make_certificates(tmp_path, ["images.test"])


@pytest.fixture
def tls_server(certificates: Certificates) -> Iterator[LocalServer]:
    server = LocalServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates.cert, certificates.key)

    def remember_sni(sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        server.sni.append(name)

    context.sni_callback = remember_sni
    server.socket = context.wrap_socket(server.socket, server_side=True)
    yield from serve(server)


@pytest.fixture(autouse=True)
def guard(monkeypatch: pytest.MonkeyPatch) -> Guard:
    seen = Guard()
    create_connection = asyncio.base_events.BaseEventLoop.create_connection
    getaddrinfo = socket.getaddrinfo

    async def guarded_connection(loop: Any, factory: Any, host: Any = None, port: Any = None, **kwargs: Any) -> Any:
        seen.connections.append((host, port))
        if not _loopback(str(host)):
            raise OSError(f"test guard: no connection to {host!r}, only to loopback addresses")
        return await create_connection(loop, factory, host, port, **kwargs)

    def guarded_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        seen.lookups.append(name)
        if name != "localhost" and not name.replace(".", "").isdigit() and not _loopback(name):
            raise socket.gaierror(socket.EAI_NONAME, f"test guard: no lookup of {name!r}")
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(asyncio.base_events.BaseEventLoop, "create_connection", guarded_connection)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_lookup)
    return seen
