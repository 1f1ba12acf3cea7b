"""TUF's fetcher over the guarded fetcher: each hop from TUF's thread to the event loop brings back ~1 MiB."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from glimpse.services.catalog.transport import BLOCK, _next_block


async def chunks(count: int, size: int) -> AsyncIterator[bytes]:
    for i in range(count):
        yield bytes([i % 256]) * size


def test_network_chunks_are_joined_into_blocks_and_each_is_reported() -> None:
    heard: list[int] = []

    async def read_all() -> list[bytes]:
        stream: Any = chunks(100, 32 * 1024)  # 3.2 MiB in 32 KiB chunks, as TLS delivers them
        blocks = []
        while True:
            try:
                blocks.append(await _next_block(stream, heard.append))
            except StopAsyncIteration:
                return blocks

    blocks = asyncio.run(read_all())
    assert [len(b) for b in blocks] == [BLOCK, BLOCK, BLOCK, 4 * 32 * 1024]
    assert b"".join(blocks) == b"".join(bytes([i % 256]) * 32 * 1024 for i in range(100))
    assert heard == [32 * 1024] * 100  # progress still follows every chunk


def test_an_empty_stream_ends_at_once() -> None:
    with pytest.raises(StopAsyncIteration):
        asyncio.run(_next_block(chunks(0, 1), None))  # type: ignore[arg-type]
