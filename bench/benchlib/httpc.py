"""Minimal HTTP/1.1 clients with little per-request overhead, so the server, not the client, is measured.

``Conn`` is a blocking keep-alive connection (sequential figures). ``AsyncConn`` is its asyncio twin
(population and the concurrency fallback). ``upload_file`` / ``download`` stream over a raw socket
(``sendfile`` up, ``recv_into`` down) and are the fallbacks when curl is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

USER_AGENT = "glimpse-bench/1"


class HTTPError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"only plain http:// URLs are supported, got {url!r}")
        return cls(parts.hostname, parts.port or 80)

    @property
    def base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def build_request(
    method: str, path: str, host: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"User-Agent: {USER_AGENT}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body if body else head


def parse_head(raw: bytes) -> tuple[int, dict[str, str]]:
    text = raw.decode("latin-1")
    status_line, _, rest = text.partition("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise HTTPError(f"bad status line {status_line!r}")
    headers: dict[str, str] = {}
    for line in rest.split("\r\n"):
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


def json_request(method: str, path: str, host: str, payload: Any) -> bytes:
    body = json.dumps(payload).encode()
    return build_request(method, path, host, body, {"Content-Type": "application/json"})


class Conn:
    """One blocking keep-alive connection."""

    def __init__(self, endpoint: Endpoint, timeout: float = 60.0) -> None:
        self.endpoint = endpoint
        self.host_header = f"{endpoint.host}:{endpoint.port}"
        self.sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = cast(io.BufferedReader, self.sock.makefile("rb", buffering=1 << 16))

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

    def __enter__(self) -> Conn:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def send_raw(self, request: bytes) -> Response:
        self.sock.sendall(request)
        return self.read_response()

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        return self.send_raw(build_request(method, path, self.host_header, body, headers))

    def get_json(self, path: str) -> Any:
        response = self.request("GET", path)
        if response.status != 200:
            raise HTTPError(f"GET {path} -> {response.status}: {response.body[:300]!r}")
        return response.json()

    def read_response(self) -> Response:
        lines: list[bytes] = []
        while True:
            line = self.reader.readline(65537)
            if not line:
                raise HTTPError("connection closed by the server")
            if line in (b"\r\n", b"\n"):
                break
            lines.append(line)
        status, headers = parse_head(b"".join(lines))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._read_chunked()
        elif "content-length" in headers:
            body = self._read_exactly(int(headers["content-length"]))
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:
            body = self.reader.read()
        return Response(status, headers, body)

    def _read_exactly(self, size: int) -> bytes:
        data = self.reader.read(size)
        if len(data) != size:
            raise HTTPError(f"short body: {len(data)} of {size} bytes")
        return data

    def _read_chunked(self) -> bytes:
        out = bytearray()
        while True:
            size = int(self.reader.readline().split(b";", 1)[0], 16)
            if size == 0:
                while self.reader.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            out += self._read_exactly(size)
            self.reader.readline()


class AsyncConn:
    """One asyncio keep-alive connection (Content-Length responses only, which is all the API sends)."""

    def __init__(self, endpoint: Endpoint, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.endpoint = endpoint
        self.host_header = f"{endpoint.host}:{endpoint.port}"
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, endpoint: Endpoint) -> AsyncConn:
        reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port, limit=1 << 20)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(endpoint, reader, writer)

    async def send_raw(self, request: bytes) -> Response:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status, headers = parse_head(head[:-4])
        length = int(headers.get("content-length", "0"))
        body = await self.reader.readexactly(length) if length else b""
        return Response(status, headers, body)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


def install_uvloop() -> str:
    """Use uvloop for the asyncio clients when it is importable (it is a server dependency)."""
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "asyncio+uvloop"


@dataclass(slots=True)
class Transfer:
    status: int
    nbytes: int
    seconds: float
    body: bytes = b""


def upload_file(endpoint: Endpoint, path: str, source: Path, headers: dict[str, str]) -> Transfer:
    """PUT a file with Content-Length, the body sent by the kernel (``sendfile``)."""
    size = source.stat().st_size
    head = build_request(
        "PUT", path, f"{endpoint.host}:{endpoint.port}", None, {**headers, "Content-Length": str(size)}
    )
    with Conn(endpoint, timeout=600) as conn, source.open("rb") as handle:
        started = time.perf_counter()
        conn.sock.sendall(head)
        sent = conn.sock.sendfile(handle)
        response = conn.read_response()
        elapsed = time.perf_counter() - started
    return Transfer(response.status, sent, elapsed, response.body)


def download(endpoint: Endpoint, path: str) -> Transfer:
    """GET a body into a reused buffer and throw it away (the Python stand-in for ``curl -o /dev/null``)."""
    with Conn(endpoint, timeout=600) as conn:
        started = time.perf_counter()
        conn.sock.sendall(build_request("GET", path, conn.host_header))
        lines: list[bytes] = []
        while (line := conn.reader.readline(65537)) not in (b"\r\n", b"\n", b""):
            lines.append(line)
        status, headers = parse_head(b"".join(lines))
        remaining = int(headers.get("content-length", "0"))
        received = 0
        buffered = conn.reader.read1(remaining) if remaining else b""  # what the reader already holds
        received += len(buffered)
        remaining -= len(buffered)
        buffer = bytearray(1 << 20)
        view = memoryview(buffer)
        while remaining > 0:
            got = conn.sock.recv_into(view, min(len(buffer), remaining))
            if not got:
                break
            received += got
            remaining -= got
        elapsed = time.perf_counter() - started
    return Transfer(status, received, elapsed)
