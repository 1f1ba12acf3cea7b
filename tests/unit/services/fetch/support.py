"""What the fetch tests share: real HTTP(S) servers on 127.0.0.1 answering per-path functions, the
record the connection guard keeps, and helpers that fetch through a policy.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import pytest

from glimpse.services.fetch import FetchPolicy, FetchRefused, IPAddress, RemoteStream, open_stream

T = TypeVar("T")
MiB = 1024 * 1024
PAYLOAD = bytes(range(256)) * 1200  # 300 KiB


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


# ------------------------------------------------------------------------------------------------ servers

Route = Callable[["Handler"], None]


class LocalServer(ThreadingHTTPServer):
    """An HTTP/1.0 server on 127.0.0.1 whose answers are per-path functions; it records what it was asked."""

    daemon_threads = False
    block_on_close = True  # server_close() waits for the handlers, which all end once `stop` is set

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, Message]] = []
        self.stop = threading.Event()
        self.aborted = threading.Event()  # a handler's write failed: the client closed the connection
        self.sni: list[str | None] = []

    @property
    def port(self) -> int:
        port: int = self.server_address[1]
        return port

    def url(self, path: str, *, scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that go away are the point of several tests


class Handler(BaseHTTPRequestHandler):
    server: LocalServer

    def do_GET(self) -> None:
        self.server.requests.append((self.path, self.headers))
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        route(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def respond(body: bytes, *, status: int = 200, length: bool = True) -> Route:
    def route(h: Handler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/octet-stream")
        if length:
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return route


def redirect(location: str, status: int = 302) -> Route:
    def route(h: Handler) -> None:
        h.send_response(status)
        if location:
            h.send_header("Location", location)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return route


def flood(*, announce: int | None = None, total: int = 64 * MiB, chunk: int = 64 * 1024) -> Route:
    """Send up to ``total`` bytes (announcing ``announce`` as Content-Length), noting a failed write."""

    def route(h: Handler) -> None:
        h.send_response(200)
        if announce is not None:
            h.send_header("Content-Length", str(announce))
        h.end_headers()
        sent = 0
        try:
            while sent < total and not h.server.stop.is_set():
                h.wfile.write(b"x" * chunk)
                sent += chunk
        except OSError:
            h.server.aborted.set()

    return route


def trickle(*, interval: float, length: int = 1000) -> Route:
    def route(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(length))
        h.end_headers()
        try:
            for _ in range(length):
                if h.server.stop.wait(interval):
                    return
                h.wfile.write(b"x")
        except OSError:
            h.server.aborted.set()

    return route


def stall_after_headers(h: Handler) -> None:
    h.send_response(200)
    h.send_header("Content-Length", "10")
    h.end_headers()
    h.server.stop.wait(10)


def stall_before_headers(h: Handler) -> None:
    h.server.stop.wait(10)


def truncated(h: Handler) -> None:
    h.send_response(200)
    h.send_header("Content-Length", "100")
    h.end_headers()
    h.wfile.write(b"only ten b")


def serve(server: LocalServer) -> Iterator[LocalServer]:
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="test-http", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


# ------------------------------------------------------------------------------------------------- guard


@dataclass
class Guard:
    connections: list[tuple[str, int]] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ------------------------------------------------------------------------------------------------ helpers


def loopback_policy(server: LocalServer, **options: Any) -> FetchPolicy:
    """A policy that lets the tests reach their own server, and nothing else on this machine."""
    values: dict[str, Any] = {"allowed_hosts": ("127.0.0.1",), "allowed_ports": (server.port,), **options}
    return FetchPolicy(**values)


class FakeResolver:
    """Answers from a table and counts its calls; a name not in the table fails the test."""

    def __init__(self, table: dict[str, Sequence[str]]) -> None:
        self.table = table
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> Sequence[IPAddress]:
        self.calls.append((host, port))
        assert host in self.table, f"unexpected lookup of {host!r}"
        return [ipaddress.ip_address(address) for address in self.table[host]]


async def no_resolver(host: str, port: int) -> Sequence[IPAddress]:
    raise AssertionError(f"the refusal should have come before resolving {host!r}")


async def read_all(url: str, policy: FetchPolicy, **kwargs: Any) -> tuple[bytes, RemoteStream]:
    stream = await open_stream(url, policy, **kwargs)
    async with stream:
        data = b"".join([chunk async for chunk in stream])
    return data, stream


def refused(url: str, policy: FetchPolicy, **kwargs: Any) -> FetchRefused:
    with pytest.raises(FetchRefused) as caught:
        run(read_all(url, policy, **kwargs))
    return caught.value
