"""Re-blocking: a stream of chunks of any size becomes a stream of large blocks of one size.

The blocks live in page-aligned buffers (anonymous ``mmap``), so a store may hand them to ``O_DIRECT``
writes, and they are reused: a ``Lease`` counts who still reads its buffer (the stream itself, each hash
thread, each store) and the buffer goes back to its pool when the count drops to zero. Each byte is copied
once, from the request's chunk into its block; every stage after that reads the same memory.

A pool made with ``recycle=False`` hands out fresh buffers and never reuses them: that is for consumers
that cannot say when they are done with a block (see ``fanout.held_blocks``).
"""

from __future__ import annotations

import contextlib
import mmap
import threading
from collections.abc import AsyncIterator

PAGE = mmap.PAGESIZE


class Lease:
    """One block: ``view`` is its bytes; ``hold``/``release`` count its readers."""

    __slots__ = ("_buffer", "_pool", "_refs", "view")

    def __init__(self, pool: BlockPool, buffer: mmap.mmap | bytearray) -> None:
        self._pool = pool
        self._buffer = buffer
        self._refs = 1
        self.view = memoryview(buffer)

    def hold(self) -> Lease:
        with self._pool.lock:
            self._refs += 1
        return self

    def release(self) -> None:
        """One reader is done (callable from any thread); the last one gives the buffer back."""
        with self._pool.lock:
            self._refs -= 1
            last = self._refs == 0
        if last:
            self._pool.give_back(self)

    def _seal(self, length: int) -> Lease:
        self.view = memoryview(self._buffer)[:length]
        return self


class BlockPool:
    """Buffers of ``block_size`` bytes, rounded up to whole pages; at most ``keep`` idle ones are kept."""

    def __init__(self, block_size: int, *, recycle: bool = True, keep: int = 16) -> None:
        self.block_size = block_size
        self.recycle = recycle
        self.keep = keep
        self.lock = threading.Lock()
        self._idle: list[mmap.mmap] = []
        self.allocated = 0  # buffers created (for tests and the benchmark's curiosity)

    def take(self) -> Lease:
        buffer: mmap.mmap | bytearray | None = None
        if self.recycle:
            with self.lock:
                buffer = self._idle.pop() if self._idle else None
            if buffer is None:
                size = -(-self.block_size // PAGE) * PAGE
                buffer = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
                self.allocated += 1
        else:
            buffer = bytearray(self.block_size)
            self.allocated += 1
        return Lease(self, buffer)

    def give_back(self, lease: Lease) -> None:
        buffer = lease._buffer
        lease.view = memoryview(b"")
        if not self.recycle or not isinstance(buffer, mmap.mmap):
            return
        with self.lock:
            if len(self._idle) < self.keep:
                self._idle.append(buffer)
                return
        _unmap(buffer)

    def close(self) -> None:
        """Unmap the idle buffers (those still leased are unmapped when the last reader lets go)."""
        with self.lock:
            idle, self._idle, self.keep = self._idle, [], 0
        for buffer in idle:
            _unmap(buffer)


def _unmap(buffer: mmap.mmap) -> None:
    with contextlib.suppress(BufferError):  # a view is still alive somewhere: the collector unmaps it later
        buffer.close()


async def reblock(source: AsyncIterator[bytes], pool: BlockPool) -> AsyncIterator[Lease]:
    """The chunks of ``source`` copied into blocks of ``pool.block_size`` bytes (the last one shorter).

    The caller owns one reference to each lease it receives and releases it when it has passed the block on.
    """
    size = pool.block_size
    lease = pool.take()
    target = lease.view
    filled = 0
    try:
        async for chunk in source:
            view = memoryview(chunk)
            while view:
                count = min(len(view), size - filled)
                target[filled : filled + count] = view[:count]
                filled += count
                view = view[count:]
                if filled == size:
                    full, lease = lease, pool.take()
                    target, filled = lease.view, 0
                    yield full._seal(size)
        if filled:
            last, filled = lease._seal(filled), -1
            yield last
    finally:
        if filled != -1:
            lease.release()
