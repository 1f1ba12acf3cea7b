"""The database goes away for a couple of seconds during requests: clear 503s (not 500s, not hangs),
an upload caught in it ends back in `queued` with its data removed, and everything works again after.

PostgreSQL: the server talks to it through a small TCP proxy written here, which is cut (every connection
reset, new ones refused) and restored. SQLite: the test holds an exclusive lock on the database file, so
writes wait the server's busy timeout (1 s here) and fail; in WAL mode reads go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from tests.fault.conftest import FaultServer, MakeServer, Response, SlowUpload
from tests.serverproc import backend

UNAVAILABLE = "The database is unavailable; retry the request later."


class TcpProxy:
    """127.0.0.1:<port> -> target, on its own event loop thread; ``cut()`` resets every connection and
    refuses new ones until ``restore()``."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.cut_off = False
        self._loop = asyncio.new_event_loop()
        self._transports: set[asyncio.WriteTransport] = set()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop)
        self._server = started.result(timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_off:
            writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer.transport, upstream_writer.transport)
        self._transports.update(pair)
        try:
            await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))
        finally:
            self._transports.difference_update(pair)
            for transport in pair:
                transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()

    def _abort_all(self) -> None:
        self.cut_off = True
        for transport in list(self._transports):
            transport.abort()

    def cut(self) -> None:
        self._loop.call_soon_threadsafe(self._abort_all)

    def restore(self) -> None:
        self.cut_off = False

    def close(self) -> None:
        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            self._abort_all()
            others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    running = TcpProxy("127.0.0.1", 5432)
    running.start()
    yield running
    running.close()


class Outage:
    """The database out of reach: the proxy cut (PostgreSQL) or the database file locked (SQLite)."""

    def __init__(self, server: FaultServer, proxy: TcpProxy | None) -> None:
        self.server, self.proxy = server, proxy
        self._holder: sqlite3.Connection | None = None

    def begin(self) -> None:
        if self.proxy is not None:
            self.proxy.cut()
            return
        self._holder = sqlite3.connect(self.server.database_url.removeprefix("sqlite:///"), isolation_level=None)
        self._holder.execute("BEGIN EXCLUSIVE")

    def end(self) -> None:
        if self.proxy is not None:
            self.proxy.restore()
            return
        assert self._holder is not None
        self._holder.execute("ROLLBACK")
        self._holder.close()


def test_database_unavailable_for_a_moment(make_server: MakeServer, request: pytest.FixtureRequest) -> None:
    tcp = None
    if backend() == "postgresql":
        tcp = request.getfixturevalue("proxy")
        server = make_server(start=False)
        proxied = make_url(server.database_url).set(port=tcp.port).render_as_string(hide_password=False)
        server.env["GLIMPSE_DATABASE_URL"] = proxied
        server.start()
    else:
        server = make_server()
    kept = server.active_image(os.urandom(1 << 20))
    caught = server.create_image("caught in the outage")
    upload = SlowUpload(server, caught, chunks=24, chunk=256 << 10, pause=0.05)  # 6 MiB over about 1.2 s
    upload.start()
    deadline = time.monotonic() + 10
    while server.status(caught) != "saving":
        assert time.monotonic() < deadline
        time.sleep(0.02)

    outage = Outage(server, tcp)
    outage.begin()
    began = time.monotonic()
    try:
        created = server.request(
            "POST", "/v2/images", '{"name": "x"}', {"content-type": "application/json"}, timeout=20
        )
        listed = server.request("GET", "/v2/images", timeout=20)
        upload.join(timeout=20)
        ended_within = time.monotonic() - began
    finally:
        time.sleep(max(0.0, 2.5 - (time.monotonic() - began)))
        outage.end()

    assert created.status == 503
    assert created.text == f"503 Service Unavailable\n\n{UNAVAILABLE}\n\n   "
    if tcp is not None:
        assert listed.status == 503
    else:
        assert listed.status == 200  # SQLite in WAL mode: readers do not wait for the writer's lock
    assert ended_within < 5, "requests must fail fast, not hang"
    assert isinstance(upload.response, Response), upload.error
    assert upload.response.status == 503
    assert UNAVAILABLE in upload.response.text

    # the database is back: the upload caught in the outage ends queued, its data removed
    server.wait_for_status(caught, "queued")
    assert server.store_files() == [kept]
    assert server.request("GET", "/v2/images").status == 200
    data = os.urandom(2 << 20)
    assert server.upload(caught, data).status == 204
    assert server.assert_active_images_intact() == 2
    code, report = server.fsck()
    assert (code, report["findings"]) == (0, [])
    server.assert_no_traceback()
