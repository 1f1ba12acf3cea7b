"""glimpse.data.sealing and glimpse.data.atrest: the sealed object format, written through the data pipeline
into a (memory) store and read back whole and in ranges; every alteration of the stored bytes is refused."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator

import pytest

from glimpse.data import pipeline
from glimpse.data.atrest import AtRest
from glimpse.data.sealing import (
    CHUNK_SIZE,
    HEADER_SIZE,
    PLAIN_CHUNK,
    TAG,
    SealBroken,
    Sealer,
    new_header,
    parse_header,
    sealed_size,
)
from glimpse.errors import KeyManagerUnavailable
from glimpse.stores.memory import MemoryStore

KEK = bytes(range(32))
P = PLAIN_CHUNK


async def _kek(key_id: str) -> bytes:
    assert key_id in ("kek-1", "kek-0")
    return KEK if key_id == "kek-1" else bytes(32)


def _at_rest() -> AtRest:
    return AtRest(_kek, sealing={"sealed": "kek-1"}, readable={"sealed": {"kek-0"}})


async def _chunks(data: bytes, size: int = 100_003) -> AsyncIterator[bytes]:
    for at in range(0, len(data), size):
        yield data[at : at + size]


def _store(data: bytes, at_rest: AtRest | None = None, block_size: int = 256 * 1024) -> tuple[MemoryStore, str]:
    store = MemoryStore("sealed")
    plan = pipeline.Plan(block_size=block_size, cap=1 << 40, algorithms=("sha256",), sealing=at_rest or _at_rest())
    out = asyncio.run(pipeline.run(_chunks(data), plan, [store], "image", size_hint=len(data)))
    assert out.hexdigests["sha256"] == hashlib.sha256(data).hexdigest()  # the hashes are the plaintext's
    assert out.size == len(data)
    return store, out.stored["sealed"].url


def _read(store: MemoryStore, url: str, start: int = 0, length: int | None = None, size: int | None = None) -> bytes:
    async def read() -> bytes:
        stream = await _at_rest().open(store, url, start, length, size=size)
        return b"".join([bytes(piece) async for piece in stream])

    return asyncio.run(read())


SIZES = [0, 1, P - 1, P, P + 1, 2 * P, 3 * P + 17, (4 << 20) + 5, 4 * 65536 * 17 + 3]


@pytest.mark.parametrize("size", SIZES)
def test_round_trip_through_the_pipeline(size: int) -> None:
    data = os.urandom(size)
    store, url = _store(data)
    stored = store.objects[url]
    assert len(stored) == sealed_size(size)
    assert data[:64] not in stored[HEADER_SIZE:] or size < 16  # the stored bytes are not the data
    assert _read(store, url) == data  # the chunk count unknown: the stream's end says which is last
    assert _read(store, url, size=size) == data


def test_blocks_the_sealer_writes_are_whole_pages() -> None:
    """After the header, every block but the last is whole 64 KiB chunks (the filesystem's O_DIRECT writes)."""
    header, key = new_header("kek-1", KEK)

    async def blocks() -> list[int]:
        sealer = Sealer(header, key, block_size=1 << 20, held=2)
        return [len(block) async for block in sealer.seal(_chunks(os.urandom(3 << 20), 1 << 20))]

    sizes = asyncio.run(blocks())
    assert sizes[0] == HEADER_SIZE
    assert all(size % 4096 == 0 for size in sizes[:-1])
    assert sum(sizes) == sealed_size(3 << 20)


RANGES = [(0, 1), (P - 1, 2), (P, P), (P - 1, P + 2), (2 * P, 1), (5, 3 * P), (3 * P, 17), (3 * P + 16, 1)]


@pytest.mark.parametrize(("start", "length"), RANGES)
def test_ranges_at_chunk_boundaries(start: int, length: int) -> None:
    data = os.urandom(3 * P + 17)
    store, url = _store(data)
    assert _read(store, url, start, length, size=len(data)) == data[start : start + length]
    assert _read(store, url, start, length) == data[start : start + length]


def test_a_range_reads_only_the_chunks_covering_it() -> None:
    data = os.urandom(10 * P)
    store, url = _store(data)
    opened: list[tuple[int, int | None]] = []
    real = store.open

    def spy(url: str, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        opened.append((start, length))
        return real(url, start, length)

    store.open = spy  # type: ignore[method-assign]
    assert _read(store, url, 4 * P + 10, 100, size=len(data)) == data[4 * P + 10 : 4 * P + 110]
    assert opened == [(0, HEADER_SIZE), (HEADER_SIZE + 4 * CHUNK_SIZE, CHUNK_SIZE)]


def _broken(store: MemoryStore, url: str, stored: bytes, size: int, match: str | None = None) -> None:
    store.objects[url] = stored
    for known in (size, None):
        with pytest.raises(SealBroken, match=match):
            _read(store, url, size=known)


def test_a_flipped_bit_anywhere_is_refused() -> None:
    data = os.urandom(3 * P + 17)
    store, url = _store(data)
    original = store.objects[url]
    for at in (10, 30, 100, HEADER_SIZE - 1, HEADER_SIZE, HEADER_SIZE + CHUNK_SIZE + 5, len(original) - 1):
        altered = bytearray(original)
        altered[at] ^= 0x01
        _broken(store, url, bytes(altered), len(data))


def test_truncation_is_refused_even_at_a_chunk_boundary() -> None:
    data = os.urandom(3 * P)
    store, url = _store(data)
    original = store.objects[url]
    _broken(store, url, original[: HEADER_SIZE + 2 * CHUNK_SIZE], len(data))  # two whole chunks, none last
    _broken(store, url, original[:-1], len(data))
    _broken(store, url, original[: HEADER_SIZE + TAG - 1], len(data))
    _broken(store, url, original[: HEADER_SIZE - 1], len(data), "cut short")


def test_reordered_repeated_and_appended_chunks_are_refused() -> None:
    data = os.urandom(3 * P + 17)
    store, url = _store(data)
    original = store.objects[url]
    head, body = original[:HEADER_SIZE], original[HEADER_SIZE:]
    chunks = [body[at : at + CHUNK_SIZE] for at in range(0, len(body), CHUNK_SIZE)]
    _broken(store, url, head + chunks[1] + chunks[0] + b"".join(chunks[2:]), len(data))
    _broken(store, url, head + chunks[0] + chunks[0] + b"".join(chunks[2:]), len(data))
    _broken(store, url, original + chunks[0], len(data))


def test_another_objects_header_or_chunks_do_not_open() -> None:
    data = os.urandom(2 * P)
    store, url = _store(data)
    other_store, other_url = _store(data)  # the same data, another data key and prefix
    mine, other = store.objects[url], other_store.objects[other_url]
    _broken(store, url, other[:HEADER_SIZE] + mine[HEADER_SIZE:], len(data))
    _broken(store, url, mine[:HEADER_SIZE] + other[HEADER_SIZE:], len(data))


def test_a_key_the_store_does_not_list_is_refused() -> None:
    data = os.urandom(100)
    store, url = _store(data)
    header = parse_header(store.objects[url])
    assert header.key_id == "kek-1"
    stranger = AtRest(_kek, readable={"sealed": {"kek-0"}})
    with pytest.raises(SealBroken, match="not one of store sealed's"):
        asyncio.run(stranger.open(store, url))


def test_objects_written_before_the_store_sealed_are_read_as_they_are() -> None:
    store = MemoryStore("sealed")
    store.objects["memory://sealed/old"] = b"plain old data"
    assert _read(store, "memory://sealed/old", 6, 3) == b"old"


def test_a_key_manager_that_cannot_be_reached_stores_nothing() -> None:
    async def down(key_id: str) -> bytes:
        raise KeyManagerUnavailable("the key manager could not be reached")

    store = MemoryStore("sealed")
    with pytest.raises(KeyManagerUnavailable):
        _store(b"data", AtRest(down, sealing={"sealed": "kek-1"}))
    assert store.objects == {}


def test_a_store_whose_key_cannot_be_read_fails_alone_when_not_all_must_succeed() -> None:
    async def only_kek_1(key_id: str) -> bytes:
        if key_id != "kek-1":
            raise KeyManagerUnavailable("the key manager could not be reached")
        return KEK

    at_rest = AtRest(only_kek_1, sealing={"sealed": "kek-1", "other": "kek-2"})
    sealed, other, plain = MemoryStore("sealed"), MemoryStore("other"), MemoryStore("plain")
    plan = pipeline.Plan(block_size=65536, cap=1 << 30, sealing=at_rest)
    data = os.urandom(3 * P)
    out = asyncio.run(pipeline.run(_chunks(data), plan, [sealed, other, plain], "image", all_must_succeed=False))
    assert sorted(out.stored) == ["plain", "sealed"]
    assert list(out.failures) == ["other"]
    assert isinstance(out.failures["other"], KeyManagerUnavailable)
    assert other.objects == {}
    assert plain.objects[out.stored["plain"].url] == data
    with pytest.raises(KeyManagerUnavailable):  # every target refused: nothing is read
        asyncio.run(pipeline.run(_chunks(data), plan, [other], "image", all_must_succeed=False))


def test_a_plain_store_beside_a_sealed_one_gets_the_plain_data() -> None:
    data = os.urandom(2 * P + 3)
    sealed, plain = MemoryStore("sealed"), MemoryStore("plain")
    plan = pipeline.Plan(block_size=65536, cap=1 << 30, sealing=_at_rest())
    out = asyncio.run(pipeline.run(_chunks(data), plan, [sealed, plain], "image"))
    assert plain.objects[out.stored["plain"].url] == data
    assert _read(sealed, out.stored["sealed"].url, size=len(data)) == data


class _Trickling(MemoryStore):
    """Serves its objects in odd pieces (as a network store does), never on a chunk boundary."""

    async def open(self, url: str, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        async for piece in super().open(url, start, length):
            for at in range(0, len(piece), 7777):
                yield piece[at : at + 7777]


@pytest.mark.parametrize(("start", "length"), [(0, None), *RANGES])
def test_pieces_of_any_size_from_the_store(start: int, length: int | None) -> None:
    data = os.urandom(40 * P + 5)  # larger than a batch opened in a thread
    store, url = _store(data)
    trickling = _Trickling("sealed")
    trickling.objects = store.objects
    end = None if length is None else start + length
    assert _read(trickling, url, start, length, size=len(data)) == data[start:end]
    assert _read(trickling, url, start, length) == data[start:end]
