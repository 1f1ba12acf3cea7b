"""A byte range of an open file, served by the kernel where the HTTP server can, read in chunks elsewhere.

The filesystem store and the image cache hand a download a :class:`FileRegion` instead of a generator of
chunks. It is an async iterator of ``pread`` chunks (on worker threads), so everything that consumes a
stream (the cache fill, the task queue, the in-process test client) takes it unchanged; the HTTP layer,
given a server that offers ASGI's ``http.response.zerocopysend``, passes the descriptor itself and the bytes
go from the page cache to the socket with ``sendfile``, no copy through Python and no per-chunk work.

The region owns its descriptor: :meth:`aclose` (reached at the end of iteration too) closes it once and then
runs the hooks added with :meth:`when_finished` with the number of bytes sent.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio


class FileRegion:
    """Bytes ``[offset, offset + length)`` of the open file ``fd`` (owned by the region)."""

    def __init__(self, fd: int, offset: int, length: int, chunk_size: int) -> None:
        self.fd = fd
        self.offset = offset
        self.length = length
        self.chunk_size = chunk_size
        self.sent = 0
        self._counters: list[Callable[[int], object]] = []
        self._finishers: list[Callable[[int], Awaitable[None]]] = []
        self._chunks: AsyncIterator[bytes] | None = None
        self._closed = False

    def counting(self, counter: Callable[[int], object]) -> FileRegion:
        """Also report every byte sent to ``counter`` (a metric); returns the region."""
        self._counters.append(counter)
        return self

    def when_finished(self, hook: Callable[[int], Awaitable[None]]) -> None:
        """Run ``hook(bytes sent)`` once the region is closed."""
        self._finishers.append(hook)

    def add_sent(self, count: int) -> None:
        """``count`` more bytes of the region reached the client (by whoever sent them)."""
        self.sent += count
        for counter in self._counters:
            counter(count)

    # -- as a stream of chunks --------------------------------------------------------------------------
    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if self._chunks is None:
            self._chunks = self._read()
        return await anext(self._chunks)

    async def _read(self) -> AsyncIterator[bytes]:
        try:
            offset, remaining = self.offset + self.sent, self.length - self.sent
            while remaining > 0 and not self._closed:
                chunk = await anyio.to_thread.run_sync(os.pread, self.fd, min(self.chunk_size, remaining), offset)
                if not chunk:
                    break
                offset += len(chunk)
                remaining -= len(chunk)
                self.add_sent(len(chunk))
                yield chunk
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Close the descriptor and run the finish hooks (once; later calls do nothing)."""
        if self._closed:
            return
        self._closed = True
        os.close(self.fd)
        for hook in self._finishers:
            await hook(self.sent)
