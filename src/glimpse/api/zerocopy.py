"""Zero-copy file responses: ASGI's ``http.response.zerocopysend`` on both sides.

The app side, :class:`RegionResponse`, sends a :class:`~glimpse.stores.region.FileRegion` (a cached image,
a filesystem store's object) as one ``http.response.zerocopysend`` message when the server lists the
extension in the scope, and as ``pread`` chunks otherwise (any other ASGI server, the test client).

The server side, :class:`ZeroCopyHttpToolsProtocol`, is uvicorn's httptools protocol offering that extension
(uvicorn itself offers none): ``glimpse serve`` runs with it. The region goes out with ``os.sendfile`` from a
worker thread on a duplicate of the connection's socket (so the descriptor cannot be reused by another
connection while the thread sends), after the response head left the transport's buffer; nothing else
writes to the connection meanwhile (its next pipelined request waits for this response). A HEAD or a
chunked response falls back to chunks. The bytes sent are reported back in the message (``"sent"``), so the
region counts what the client got even when it hung up half way.
"""

from __future__ import annotations

import asyncio
import io
import os
import select
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from glimpse.stores.region import FileRegion

ZEROCOPY = "http.response.zerocopysend"
POLL_MS = 1000  # a stalled client: how often the sending thread checks whether the connection closed


class RegionResponse(StreamingResponse):
    """A file region as the response body: zero-copy where the server offers it, chunks elsewhere."""

    def __init__(
        self, region: FileRegion, status_code: int, headers: Mapping[str, str], media_type: str | None = None
    ) -> None:
        super().__init__(region, status_code=status_code, headers=headers, media_type=media_type)
        self.region = region

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if ZEROCOPY in scope.get("extensions", {}) and scope.get("method") != "HEAD":
                await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
                message: dict[str, Any] = {"type": ZEROCOPY, "file": io.FileIO(self.region.fd, closefd=False),
                                           "offset": self.region.offset, "count": self.region.length,
                                           "more_body": False}  # fmt: skip
                await send(message)
                self.region.add_sent(int(message.get("sent", self.region.length)))
            else:
                await super().__call__(scope, receive, send)
        finally:
            await self.region.aclose()


# -- the server side -----------------------------------------------------------------------------------------
def sendfile_all(sock_fd: int, fd: int, offset: int, count: int, closing: Callable[[], bool]) -> int:
    """Blocking: ``count`` bytes of ``fd`` from ``offset`` to the non-blocking socket ``sock_fd``; returns the
    bytes sent (fewer when the client went away or the file is shorter)."""
    poller = select.poll()
    poller.register(sock_fd, select.POLLOUT)
    sent = 0
    while sent < count:
        try:
            done = os.sendfile(sock_fd, fd, offset + sent, count - sent)
        except BlockingIOError:
            if closing():
                break
            poller.poll(POLL_MS)
            continue
        except OSError:  # EPIPE, ECONNRESET: the client hung up
            break
        if done == 0:
            break
        sent += done
    return sent


async def _drained(transport: asyncio.Transport) -> None:
    """Wait until the transport's own buffer (the response head) reached the socket: it nearly always has
    (a few hundred bytes into an empty socket buffer), so this polls rather than re-arming flow control."""
    while transport.get_write_buffer_size() and not transport.is_closing():  # noqa: ASYNC110
        await asyncio.sleep(0.001)


def _zerocopy_send(cycle: RequestResponseCycle, send: Callable[[Any], Awaitable[None]]) -> Callable[..., Any]:
    async def zerocopy_send(message: Any) -> None:
        if message["type"] != ZEROCOPY:
            return await send(message)
        if not cycle.response_started or cycle.response_complete:
            raise RuntimeError(f"Unexpected ASGI message '{ZEROCOPY}' outside a response body.")
        more_body = bool(message.get("more_body", False))
        fd = message["file"].fileno()
        offset = message.get("offset")
        offset = os.lseek(fd, 0, os.SEEK_CUR) if offset is None else int(offset)
        count = message.get("count")
        count = os.fstat(fd).st_size - offset if count is None else int(count)
        sent = 0
        if cycle.scope["method"] == "HEAD" or cycle.chunked_encoding or cycle.disconnected:
            while sent < count and not cycle.disconnected:
                chunk = await anyio.to_thread.run_sync(os.pread, fd, min(1 << 20, count - sent), offset + sent)
                if not chunk:
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                sent += len(chunk)
        else:
            if count > cycle.expected_content_length:
                raise RuntimeError("Response content longer than Content-Length")
            transport = cycle.transport
            await _drained(transport)
            sock = transport.get_extra_info("socket")
            if sock is None or transport.is_closing():
                return
            sock_fd = os.dup(sock.fileno())
            try:
                sent = await anyio.to_thread.run_sync(sendfile_all, sock_fd, fd, offset, count, transport.is_closing)
            finally:
                os.close(sock_fd)
            cycle.expected_content_length -= sent
            if sent < count:  # the client is gone (or the file shrank): this connection cannot go on
                message["sent"] = sent
                transport.close()
                return
        message["sent"] = sent
        await send({"type": "http.response.body", "body": b"", "more_body": more_body})

    return zerocopy_send


class ZeroCopyHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, offering ``http.response.zerocopysend`` to the app."""

    def on_headers_complete(self) -> None:
        self.scope["extensions"] = {**self.scope.get("extensions", {}), ZEROCOPY: {}}
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope:  # a new request (its app has not started yet)
            cycle.send = _zerocopy_send(cycle, cycle.send)  # type: ignore[method-assign]
