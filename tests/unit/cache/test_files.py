"""One node's cache directory: the hard budget, the LRU eviction order, the free-space floor, verification
against the multihash (not md5 alone), tamper detection, stale partial files and prune."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from glimpse.cache.files import RECORD_RESERVE, CacheDir, Corrupt, Refused

SIZE = 10_000


def digests(data: bytes) -> dict[str, str]:
    return {"sha512": hashlib.sha512(data).hexdigest(), "md5": hashlib.md5(data).hexdigest()}


def put(cache: CacheDir, image_id: str, data: bytes, lru: list[str] | None = None) -> list[tuple[str, int]]:
    fill, evicted = cache.reserve(image_id, len(data), lru or [], ["sha512", "md5"])
    fill.write(data)
    assert fill.verify(digests(data))
    fill.commit()
    return evicted


def used(cache: CacheDir) -> int:
    return cache.usage().total


def test_a_fill_evicts_the_least_recently_used_and_never_exceeds_the_budget(tmp_path: Path) -> None:
    budget = 3 * (SIZE + RECORD_RESERVE)
    cache = CacheDir(tmp_path, budget)
    for name in ("a", "b", "c"):
        put(cache, name, os.urandom(SIZE))
    assert used(cache) <= budget
    # the table's order: c least recently used, then a, then b
    evicted = put(cache, "d", os.urandom(SIZE), lru=["c", "a", "b"])
    assert [image_id for image_id, _ in evicted] == ["c"]
    assert sorted(cache.cached_ids()) == ["a", "b", "d"]
    assert used(cache) <= budget
    # a file the table does not know goes first
    (tmp_path / "data" / "stray").write_bytes(b"x" * 100)
    evicted = put(cache, "e", os.urandom(SIZE), lru=["a", "b", "d"])
    assert [image_id for image_id, _ in evicted][:1] == ["stray"]
    assert used(cache) <= budget


def test_refused_when_too_big_already_there_or_being_filled(tmp_path: Path) -> None:
    cache = CacheDir(tmp_path, 2 * (SIZE + RECORD_RESERVE))
    with pytest.raises(Refused, match="larger than the cache"):
        cache.reserve("big", 2 * SIZE + RECORD_RESERVE + 1, [], ["sha512"])
    put(cache, "a", os.urandom(SIZE))
    with pytest.raises(Refused, match="already cached"):
        cache.reserve("a", SIZE, [], ["sha512"])
    fill, _ = cache.reserve("b", SIZE, [], ["sha512"])
    with pytest.raises(Refused, match="being cached"):
        cache.reserve("b", SIZE, [], ["sha512"])
    fill.discard()
    assert os.listdir(tmp_path / "incomplete") == []


def test_refused_when_the_disk_would_keep_less_than_the_floor(tmp_path: Path) -> None:
    free = CacheDir(tmp_path, 10 * SIZE).free_space()
    cache = CacheDir(tmp_path, 10 * SIZE, min_free=free)  # any fill would leave less than `free`
    with pytest.raises(Refused, match="floor"):
        cache.reserve("a", SIZE, [], ["sha512"])
    assert used(cache) == 0


def test_a_fill_whose_multihash_differs_is_discarded_even_when_md5_matches(tmp_path: Path) -> None:
    cache = CacheDir(tmp_path, 10 * SIZE)
    data = os.urandom(SIZE)
    fill, _ = cache.reserve("a", SIZE, [], ["sha512", "md5"])
    fill.write(data)
    assert not fill.verify({"sha512": "0" * 128, "md5": hashlib.md5(data).hexdigest()})
    assert cache.cached_ids() == []
    assert os.listdir(tmp_path / "incomplete") == []
    short, _ = cache.reserve("b", SIZE, [], ["sha512"])
    short.write(data[:-1])  # one byte short
    assert not short.verify({"sha512": hashlib.sha512(data[:-1]).hexdigest()})
    assert used(cache) == 0


def test_a_fill_never_writes_past_its_reservation(tmp_path: Path) -> None:
    cache = CacheDir(tmp_path, 10 * SIZE)
    fill, _ = cache.reserve("a", SIZE, [], ["sha512"])
    with pytest.raises(Refused, match="more data than its recorded size"):
        fill.write(os.urandom(SIZE + 1))
    assert used(cache) == 0


def test_only_the_verified_file_is_opened(tmp_path: Path) -> None:
    cache = CacheDir(tmp_path, 10 * SIZE)
    data = os.urandom(SIZE)
    put(cache, "a", data)
    fd = cache.open_verified("a", "sha512", digests(data)["sha512"], SIZE)
    assert fd is not None
    assert os.pread(fd, SIZE, 0) == data
    os.close(fd)
    assert cache.open_verified("missing", "sha512", "x", 1) is None
    # the image's multihash is no longer the one recorded: evicted, not served
    with pytest.raises(Corrupt):
        cache.open_verified("a", "sha512", "f" * 128, SIZE)
    assert cache.cached_ids() == []

    put(cache, "b", data)
    path = tmp_path / "data" / "b"
    os.chmod(path, 0o644)
    with open(path, "r+b") as handle:  # same size, one byte changed: the mtime and ctime move
        handle.write(bytes([data[0] ^ 1]))
    with pytest.raises(Corrupt):
        cache.open_verified("b", "sha512", digests(data)["sha512"], SIZE)
    assert not path.exists()


def test_clean_removes_dead_and_stalled_partials_and_invalid_entries(tmp_path: Path) -> None:
    cache = CacheDir(tmp_path, 10 * SIZE)
    live, _ = cache.reserve("y", SIZE, [], ["sha512"])  # this process: kept unless stalled
    put(cache, "good", os.urandom(SIZE))
    dead = tmp_path / "incomplete" / "x.999999999.abcd"  # no such process (a fill also removes these)
    dead.write_bytes(b"partial")
    (tmp_path / "data" / "no-record").write_bytes(b"z")
    partials, invalid = cache.clean(stall_time=3600)
    assert partials == 1
    assert invalid == ["no-record"]
    assert os.listdir(tmp_path / "incomplete") == [live.path.name]
    assert cache.cached_ids() == ["good"]
    os.utime(live.path, (0, 0))  # older than the stall time
    partials, _ = cache.clean(stall_time=3600)
    assert partials == 1
    assert os.listdir(tmp_path / "incomplete") == []


def test_prune_evicts_down_to_a_lowered_budget(tmp_path: Path) -> None:
    cache = CacheDir(tmp_path, 10 * (SIZE + RECORD_RESERVE))
    for name in ("a", "b", "c"):
        put(cache, name, os.urandom(SIZE))
    cache.max_size = 2 * (SIZE + RECORD_RESERVE)
    evicted = cache.prune(["b", "c", "a"])
    assert [image_id for image_id, _ in evicted] == ["b"]
    assert used(cache) <= cache.max_size
    assert cache.prune(["c", "a"]) == []
