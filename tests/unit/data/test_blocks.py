"""glimpse.data.blocks: re-blocking into pooled, page-aligned buffers that are reused once released."""

from __future__ import annotations

import asyncio
import ctypes
from collections.abc import AsyncIterator

import pytest

from glimpse.data.blocks import PAGE, BlockPool, reblock


async def _chunks(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def _collect(pool: BlockPool, *chunks: bytes) -> list[bytes]:
    async def run() -> list[bytes]:
        out = []
        async for lease in reblock(_chunks(*chunks), pool):
            out.append(bytes(lease.view))
            lease.release()
        return out

    return asyncio.run(run())


@pytest.mark.parametrize("recycle", [True, False])
def test_chunks_of_any_size_become_blocks_of_one_size(recycle: bool) -> None:
    pool = BlockPool(8, recycle=recycle)
    blocks = _collect(pool, b"abc", b"defghijklmn", b"", b"o", b"pqrstuvwxyz")
    assert blocks == [b"abcdefgh", b"ijklmnop", b"qrstuvwx", b"yz"]


def test_a_stream_of_whole_blocks_has_no_empty_last_block() -> None:
    assert _collect(BlockPool(4), b"abcdefgh") == [b"abcd", b"efgh"]
    assert _collect(BlockPool(4)) == []


def test_released_buffers_are_reused_and_page_aligned() -> None:
    pool = BlockPool(3 * PAGE + 1)
    blocks = _collect(pool, bytes(range(256)) * 1000)
    assert b"".join(blocks) == bytes(range(256)) * 1000
    assert pool.allocated == 2  # the one being filled and the one just handed on, over and over
    lease = pool.take()
    address = ctypes.addressof(ctypes.c_char.from_buffer(lease.view))
    assert address % PAGE == 0
    lease.release()


def test_a_buffer_goes_back_only_when_its_last_reader_lets_go() -> None:
    pool = BlockPool(16)
    first = pool.take()
    first.view[:5] = b"hello"
    first.hold()
    first.release()
    second = pool.take()  # the first is still held: a new buffer
    assert pool.allocated == 2
    first.release()
    third = pool.take()
    assert pool.allocated == 2  # the first's buffer came back
    second.release()
    third.release()
    pool.close()


def test_an_abandoned_stream_releases_the_block_it_was_filling() -> None:
    pool = BlockPool(4)

    async def run() -> None:
        stream = reblock(_chunks(b"abcdef"), pool)
        lease = await anext(stream)
        lease.release()
        await stream.aclose()  # "ef" was being filled

    asyncio.run(run())
    assert len(pool._idle) == 2
