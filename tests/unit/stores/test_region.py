"""FileRegion: a byte range of an open file, read as chunks or handed to sendfile, closed once."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest

from glimpse.stores.region import FileRegion


def region_of(path: Path, offset: int, length: int, chunk_size: int = 4) -> FileRegion:
    return FileRegion(os.open(path, os.O_RDONLY), offset, length, chunk_size)


def test_chunks_cover_the_range_count_it_and_close_once(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"0123456789abcdef")
    counted: list[int] = []
    finished: list[int] = []

    async def finish(sent: int) -> None:
        finished.append(sent)

    async def main() -> list[bytes]:
        region = region_of(path, 3, 10).counting(counted.append)
        region.when_finished(finish)
        chunks = [chunk async for chunk in region]
        await region.aclose()  # a second close does nothing
        with pytest.raises(OSError, match="Bad file descriptor"):
            os.fstat(region.fd)
        return chunks

    chunks = anyio.run(main)
    assert chunks == [b"3456", b"789a", b"bc"]
    assert counted == [4, 4, 2]
    assert finished == [10]


def test_a_range_past_the_end_stops_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")

    async def main() -> bytes:
        return b"".join([chunk async for chunk in region_of(path, 1, 100)])

    assert anyio.run(main) == b"bc"


def test_sent_elsewhere_is_counted_and_reported_at_close(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abcdef")
    finished: list[int] = []

    async def finish(sent: int) -> None:
        finished.append(sent)

    async def main() -> None:
        region = region_of(path, 0, 6)
        region.when_finished(finish)
        region.add_sent(5)  # e.g. sendfile, cut short by the client
        await region.aclose()

    anyio.run(main)
    assert finished == [5]
