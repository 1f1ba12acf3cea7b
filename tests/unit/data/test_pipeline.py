"""glimpse.data.pipeline: the stages a plan chooses, run over a real stream into real (memory) stores."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from glimpse.data import pipeline
from glimpse.domain.formats import Format
from glimpse.errors import BadRequest, OverLimit, StoreError, TooLarge
from glimpse.stores.base import Block, StoredObject
from glimpse.stores.memory import MemoryStore

DATA = bytes(range(256)) * 4099  # a little over 1 MiB, not a multiple of the block size


async def _source(data: bytes = DATA, chunk: int = 65536) -> AsyncIterator[bytes]:
    for start in range(0, len(data), chunk):
        yield data[start : start + chunk]


def _plan(**options: Any) -> pipeline.Plan:
    return pipeline.Plan(block_size=256 * 1024, cap=1 << 30, **options)


def _run(plan: pipeline.Plan, stores: list[Any], **options: Any) -> pipeline.Outcome:
    return asyncio.run(pipeline.run(_source(), plan, stores, "key", **options))


def test_an_upload_hashes_md5_and_the_multihash_and_inspects() -> None:
    store = MemoryStore("a")
    out = _run(_plan(algorithms=("md5", "sha512"), inspect=True), [store])
    assert out.size == len(DATA)
    assert out.hexdigests == {"md5": hashlib.md5(DATA).hexdigest(), "sha512": hashlib.sha512(DATA).hexdigest()}
    assert out.inspection is not None
    assert out.inspection.format is Format.RAW
    assert store.objects[out.stored["a"].url] == DATA
    digests = out.digests("sha512", virtual_size=len(DATA))
    assert (digests.checksum, digests.hash_algo) == (hashlib.md5(DATA).hexdigest(), "sha512")


def test_staging_skips_hashes_and_inspection() -> None:
    store = MemoryStore("staging")
    out = _run(_plan(), [store])
    assert (out.hexdigests, out.inspection, out.size) == ({}, None, len(DATA))
    assert store.objects[out.stored["staging"].url] == DATA


def test_any_set_of_algorithms() -> None:
    out = _run(_plan(algorithms=("sha256", "sha3_512", "blake2b")), [])
    assert out.hexdigests == {name: hashlib.new(name, DATA).hexdigest() for name in ("sha256", "sha3_512", "blake2b")}


def test_fan_out_writes_every_store_once_from_one_read() -> None:
    stores = [MemoryStore("a"), MemoryStore("b"), MemoryStore("c")]
    out = _run(_plan(algorithms=("md5",)), stores)
    assert sorted(out.stored) == ["a", "b", "c"]
    assert all(store.objects[out.stored[store.id].url] == DATA for store in stores)


def test_no_store_only_reads_and_checks() -> None:
    progress: list[int] = []
    out = _run(_plan(algorithms=("sha256",), progress=progress.append), [])
    assert out.stored == {}
    assert progress[-1] == len(DATA)
    assert progress == sorted(progress)


def test_the_size_cap_and_the_declared_size() -> None:
    with pytest.raises(TooLarge):
        asyncio.run(pipeline.run(_source(), pipeline.Plan(block_size=4096, cap=1000), [MemoryStore("a")], "k"))
    with pytest.raises(BadRequest, match="larger than the declared size"):
        _run(_plan(expected=len(DATA) - 1), [MemoryStore("a")])
    with pytest.raises(BadRequest, match="were declared"):
        _run(_plan(expected=len(DATA) + 1), [MemoryStore("a")])


def test_the_quota_hook_stops_the_stream_and_nothing_stays_stored() -> None:
    store = MemoryStore("a")
    seen: list[int] = []

    async def quota(size: int) -> None:
        seen.append(size)
        if size > 512 * 1024:
            raise OverLimit("over", resource="image_size_total", limit=1, usage=0, requested=size)

    with pytest.raises(OverLimit):
        _run(_plan(quota=quota), [store])
    assert seen == [256 * 1024, 512 * 1024, 768 * 1024]
    assert store.objects == {}


class _Failing(MemoryStore):
    async def put(self, key: str, blocks: AsyncIterator[Block], size_hint: int | None = None) -> StoredObject:
        async for _ in blocks:
            raise StoreError(f"store {self.id} is broken")
        raise AssertionError("unreachable")


def test_a_failed_store_is_dropped_or_stops_everything() -> None:
    good = MemoryStore("good")
    out = _run(_plan(), [good, _Failing("bad")], all_must_succeed=False)
    assert list(out.stored) == ["good"]
    assert list(out.failures) == ["bad"]
    assert good.objects[out.stored["good"].url] == DATA
    other = MemoryStore("other")
    with pytest.raises(StoreError):
        _run(_plan(), [other, _Failing("bad")], all_must_succeed=True)
    assert other.objects == {}  # what the good store wrote is removed


class _Holding(MemoryStore):
    """A store that keeps the last two views it was given and reads them late, as a queued writer does."""

    held_blocks = 2

    async def put(self, key: str, blocks: AsyncIterator[Block], size_hint: int | None = None) -> StoredObject:
        parts: list[bytes] = []
        pending: list[Block] = []
        async for block in blocks:
            pending.append(block)
            if len(pending) > self.held_blocks:
                parts.append(bytes(pending.pop(0)))
            await asyncio.sleep(0)
        parts.extend(bytes(block) for block in pending)
        url = f"memory://{self.id}/{key}"
        self.objects[url] = b"".join(parts)
        return StoredObject(url=url, size=len(self.objects[url]))


def test_reused_buffers_never_change_a_block_a_store_still_reads() -> None:
    store = _Holding("slow")
    data = b"".join(bytes([n]) * 256 * 1024 for n in range(40))  # every block different

    async def run() -> pipeline.Outcome:
        return await pipeline.run(_source(data), _plan(algorithms=("md5",)), [store], "k")

    out = asyncio.run(run())
    assert store.objects[out.stored["slow"].url] == data
    assert out.hexdigests["md5"] == hashlib.md5(data).hexdigest()
