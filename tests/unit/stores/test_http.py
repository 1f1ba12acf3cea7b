"""glimpse.stores.http: a read-only store reading locations from a real local web server through
services.fetch (web-download's filtering), ranges by skipping; and which store owns a location URL."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from glimpse.errors import BadRequest, NotFound, StorageWriteDenied, StoreError, StoreUnavailable
from glimpse.services import fetch
from glimpse.settings import StoreSettings
from glimpse.stores.filesystem import FilesystemStore
from glimpse.stores.http import HttpStore, RemoteBody
from glimpse.stores.memory import MemoryStore
from glimpse.stores.registry import StoreRegistry, build_store
from tests.webserver import QuietHandler, serving

DATA = os.urandom(300_001)
PIECE = 65_537  # the server writes DATA in pieces of this size


@pytest.fixture(scope="module")
def web() -> Iterator[str]:
    """DATA at /data (with Content-Length), at /stream (without), a truncated body at /short, 404 and 410."""

    class Handler(QuietHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:
            if self.path == "/gone":
                self.send_error(410)
                return
            if self.path not in ("/data", "/stream", "/short"):
                self.send_error(404)
                return
            self.send_response(200)
            if self.path != "/stream":
                self.send_header("Content-Length", str(len(DATA)))
            self.end_headers()
            body = DATA[: len(DATA) // 2] if self.path == "/short" else DATA
            for start in range(0, len(body), PIECE):
                self.wfile.write(body[start : start + PIECE])
                self.wfile.flush()

    with serving(Handler) as url:
        yield url


POLICY = fetch.FetchPolicy(allowed_hosts=("127.0.0.1",), allowed_ports=())


async def _open(url: str) -> RemoteBody:
    return await fetch.open_location(url, POLICY)


@pytest.fixture
def store() -> HttpStore:
    return HttpStore("web", _open, description="the web", weight=2)


def read(store: HttpStore, url: str, start: int = 0, length: int | None = None) -> bytes:
    async def collect() -> bytes:
        return b"".join([chunk async for chunk in store.open(url, start, length)])

    return asyncio.run(collect())


def test_reads_a_location(store: HttpStore, web: str) -> None:
    assert read(store, f"{web}/data") == DATA
    assert read(store, f"{web}/stream") == DATA


@pytest.mark.parametrize(
    ("start", "length"),
    [
        (0, 1),
        (1, 10),
        (PIECE - 1, 2),  # across two pieces
        (PIECE, PIECE),  # exactly one piece
        (PIECE * 2 + 5, None),
        (len(DATA) - 1, 1),
        (0, len(DATA)),
        (123, 0),
    ],
)
def test_ranges_skip_the_start(store: HttpStore, web: str, start: int, length: int | None) -> None:
    end = len(DATA) if length is None else start + length
    assert read(store, f"{web}/data", start, length) == DATA[start:end]


def test_a_range_beyond_the_data_is_an_error(store: HttpStore, web: str) -> None:
    with pytest.raises(StoreError, match="short"):
        read(store, f"{web}/data", len(DATA) - 5, 10)
    assert read(store, f"{web}/data", len(DATA) + 5) == b""


def test_a_truncated_body_is_an_error(store: HttpStore, web: str) -> None:
    with pytest.raises(StoreError):
        read(store, f"{web}/short")


def test_missing_data_is_not_found(store: HttpStore, web: str) -> None:
    with pytest.raises(NotFound, match="404"):
        read(store, f"{web}/missing")
    with pytest.raises(NotFound, match="410"):
        read(store, f"{web}/gone")


def test_stat(store: HttpStore, web: str) -> None:
    assert asyncio.run(store.stat(f"{web}/data")) == len(DATA)
    assert asyncio.run(store.stat(f"{web}/stream")) == len(DATA)  # no Content-Length: counted
    assert asyncio.run(store.stat(f"{web}/missing")) is None
    assert asyncio.run(store.stat(f"{web}/gone")) is None


def test_reads_pass_the_fetch_filter(web: str) -> None:
    async def any_port(url: str) -> RemoteBody:
        return await fetch.open_location(url, fetch.FetchPolicy(allowed_ports=()))  # loopback not allowed

    async def strict(url: str) -> RemoteBody:
        return await fetch.open_location(url, fetch.FetchPolicy())  # Glance's defaults: ports 80 and 443

    with pytest.raises(BadRequest, match="not public"):
        read(HttpStore("web", any_port), f"{web}/data")
    with pytest.raises(BadRequest, match="port"):
        asyncio.run(HttpStore("web", strict).stat(f"{web}/data"))


def test_closes_the_connection_when_the_reader_stops(web: str) -> None:
    closed: list[str] = []

    class Tracked:
        def __init__(self, body: RemoteBody) -> None:
            self.body = body
            self.size = body.size

        def __aiter__(self) -> AsyncIterator[bytes]:
            return self.body.__aiter__()

        async def aclose(self) -> None:
            closed.append("yes")
            await self.body.aclose()

    async def opener(url: str) -> RemoteBody:
        return Tracked(await _open(url))

    store = HttpStore("web", opener)

    async def first_chunk() -> bytes:
        stream = store.open(f"{web}/data")
        iterator = aiter(stream)
        chunk = await anext(iterator)
        await iterator.aclose()  # type: ignore[attr-defined]
        return chunk

    assert DATA.startswith(asyncio.run(first_chunk()))
    assert closed == ["yes"]
    assert read(store, f"{web}/data", 10, 10) == DATA[10:20]  # stopped after the range
    assert closed == ["yes", "yes"]


def test_read_only(store: HttpStore, web: str) -> None:
    async def blocks() -> AsyncIterator[bytes]:
        yield b"data"

    with pytest.raises(StorageWriteDenied, match="read-only"):
        asyncio.run(store.put("key", blocks()))
    asyncio.run(store.delete(f"{web}/data"))  # does nothing
    assert read(store, f"{web}/data") == DATA

    async def listed() -> list[Any]:
        return [obj async for obj in store.list_objects()]

    assert asyncio.run(listed()) == []
    assert store.details() == {}
    assert asyncio.run(store.check()) is None
    assert (store.id, store.type, store.description, store.weight) == ("web", "http", "the web", 2)


def test_without_an_opener_it_cannot_read() -> None:
    store = HttpStore("web")
    with pytest.raises(StoreUnavailable):
        read(store, "http://127.0.0.1/x")
    store.use_opener(_open)
    assert store.opener is _open


def test_built_from_settings() -> None:
    store = build_store(StoreSettings(id="web", type="http", description="d", weight=4), chunk_size=1024)
    assert isinstance(store, HttpStore)
    assert (store.id, store.description, store.weight) == ("web", "d", 4)


# -- which store owns a URL -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "owned"),
    [
        ("http://example.com/image.raw", True),
        ("HTTPS://example.com:8443/a/b?c=d", True),
        ("http:///no-host", False),
        ("ftp://example.com/image.raw", False),
        ("file:///etc/passwd", False),
        ("http://[::1/broken", False),
    ],
)
def test_http_owns(store: HttpStore, url: str, owned: bool) -> None:
    assert store.owns(url) is owned


def test_filesystem_owns_only_files_in_its_directory(tmp_path: Path) -> None:
    fs = FilesystemStore("local", tmp_path / "images")
    inside = fs.datadir / "image.img"
    (tmp_path / "secret").write_bytes(b"s")
    (fs.datadir / "link").symlink_to(tmp_path / "secret")
    (fs.datadir / "inner-link").symlink_to(inside)
    (fs.datadir / "sub").mkdir()
    (fs.datadir / "loop").symlink_to(fs.datadir / "loop")
    assert fs.owns(inside.as_uri())
    assert fs.owns(f"file://localhost{inside}")
    assert fs.owns((fs.datadir / "inner-link").as_uri())  # resolves to a file in the directory
    assert fs.owns(f"{fs.datadir.as_uri()}/sub/../image.img")
    assert not fs.owns((tmp_path / "secret").as_uri())
    assert not fs.owns((fs.datadir / "link").as_uri())  # a symlink out of the directory
    assert not fs.owns(f"{fs.datadir.as_uri()}/../secret")
    assert not fs.owns(f"{fs.datadir.as_uri()}/%2e%2e/secret")
    assert not fs.owns((fs.datadir / "sub" / "x").as_uri())
    assert not fs.owns(f"file://otherhost{inside}")
    assert not fs.owns(f"{fs.datadir.as_uri()}/a%00b")
    assert not fs.owns((fs.datadir / "loop").as_uri())
    assert not fs.owns(fs.datadir.as_uri())
    assert not fs.owns(f"http://localhost{inside}")


def test_memory_owns_its_urls() -> None:
    memory = MemoryStore("mem")
    assert memory.owns("memory://mem/key")
    assert not memory.owns("memory://other/key")


def test_registry_finds_the_store_of_a_url(tmp_path: Path, store: HttpStore) -> None:
    fs = FilesystemStore("local", tmp_path / "images")
    registry = StoreRegistry({"local": fs, "web": store}, "local")
    assert registry.store_for_url((fs.datadir / "x").as_uri()) is fs
    assert registry.store_for_url("https://example.com/x") is store
    with pytest.raises(BadRequest, match="does not belong to any configured store"):
        registry.store_for_url("rbd://fsid/pool/image/snap")
