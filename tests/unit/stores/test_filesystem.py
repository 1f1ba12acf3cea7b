"""glimpse.stores.filesystem: temporary name then rename, URLs confined to the store's directory."""

from __future__ import annotations

import asyncio
import errno
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from glimpse.errors import BadRequest, NotFound, StorageFull, StorageWriteDenied, StoreError
from glimpse.settings import load_settings
from glimpse.stores import filesystem
from glimpse.stores.base import ListedObject
from glimpse.stores.filesystem import PARTIAL_SUFFIX, FilesystemStore
from glimpse.stores.registry import StoreRegistry, build_registry


async def blocks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
        await asyncio.sleep(0)


def read(store: FilesystemStore, url: str, start: int = 0, length: int | None = None) -> bytes:
    async def collect() -> bytes:
        return b"".join([chunk async for chunk in store.open(url, start, length)])

    return asyncio.run(collect())


@pytest.fixture
def store(tmp_path: Path) -> FilesystemStore:
    return FilesystemStore("local", tmp_path / "images", description="d", weight=3, chunk_size=4)


def test_creates_its_directory(tmp_path: Path) -> None:
    FilesystemStore("s", tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()


def test_attributes(store: FilesystemStore, tmp_path: Path) -> None:
    assert (store.id, store.type, store.description, store.weight) == ("local", "file", "d", 3)
    assert store.details() == {
        "data_dir": str((tmp_path / "images").resolve()),
        "chunk_size": store.chunk_size,
        "thin_provisioning": False,
    }
    assert store.url_for("abc") == (tmp_path / "images" / "abc").resolve().as_uri()


def test_put_writes_the_file_under_its_key(store: FilesystemStore) -> None:
    stored = asyncio.run(store.put("image-1", blocks(b"hello ", bytearray(b"wor"), memoryview(b"ld"))))
    path = store.datadir / "image-1"
    assert stored.url == path.as_uri()
    assert stored.size == 11
    assert path.read_bytes() == b"hello world"
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0o040
    assert store.partial_files() == []


def test_put_of_nothing_is_an_empty_file(store: FilesystemStore) -> None:
    stored = asyncio.run(store.put("empty", blocks()))
    assert stored.size == 0
    assert asyncio.run(store.stat(stored.url)) == 0
    assert read(store, stored.url) == b""


def test_put_replaces_an_existing_object(store: FilesystemStore) -> None:
    asyncio.run(store.put("k", blocks(b"old data")))
    stored = asyncio.run(store.put("k", blocks(b"new")))
    assert read(store, stored.url) == b"new"
    assert [p.name for p in store.datadir.iterdir()] == ["k"]


def test_open_reads_in_chunks_and_ranges(store: FilesystemStore) -> None:
    stored = asyncio.run(store.put("r", blocks(b"0123456789")))

    async def chunks() -> list[bytes]:
        return [chunk async for chunk in store.open(stored.url)]

    assert asyncio.run(chunks()) == [b"0123", b"4567", b"89"]
    assert read(store, stored.url, 3, 4) == b"3456"
    assert read(store, stored.url, 8) == b"89"
    assert read(store, stored.url, 0, 0) == b""
    # a length past the end stops at the end
    assert read(store, stored.url, 5, 100) == b"56789"


def test_open_missing_object_is_not_found(store: FilesystemStore) -> None:
    with pytest.raises(NotFound, match="missing from store local"):
        read(store, store.url_for("absent"))


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "http://example.com/x", "file:///tmp/../etc/passwd", "s3://bucket/key"]
)
def test_urls_outside_the_store_are_refused(store: FilesystemStore, url: str) -> None:
    with pytest.raises(NotFound, match="does not belong to store local"):
        read(store, url)
    with pytest.raises(NotFound):
        asyncio.run(store.delete(url))
    with pytest.raises(NotFound):
        asyncio.run(store.stat(url))


def test_traversal_out_of_the_store_is_refused(store: FilesystemStore, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"secret")
    url = store.url_for("..") + "/secret"
    with pytest.raises(NotFound):
        read(store, url)
    with pytest.raises(NotFound):
        asyncio.run(store.delete(url))
    assert secret.exists()


def test_delete_and_stat(store: FilesystemStore) -> None:
    stored = asyncio.run(store.put("d", blocks(b"abc")))
    assert asyncio.run(store.stat(stored.url)) == 3
    asyncio.run(store.delete(stored.url))
    assert not (store.datadir / "d").exists()
    assert asyncio.run(store.stat(stored.url)) is None
    asyncio.run(store.delete(stored.url))


def test_failing_source_leaves_no_partial_file(store: FilesystemStore) -> None:
    seen: list[list[str]] = []

    async def failing() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        seen.append([p.name for p in store.datadir.iterdir()])
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError, match="client went away"):
        asyncio.run(store.put("image-2", failing()))
    # while writing, the data lives under a temporary name, never under the key
    assert len(seen[0]) == 1
    assert seen[0][0].startswith("image-2.")
    assert seen[0][0].endswith(PARTIAL_SUFFIX)
    assert list(store.datadir.iterdir()) == []
    assert store.partial_files() == []


def test_source_os_errors_pass_through(store: FilesystemStore) -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        asyncio.run(store.put("image-2", failing()))
    assert list(store.datadir.iterdir()) == []


def test_cancelled_put_leaves_nothing(store: FilesystemStore) -> None:
    started = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"y" * 4096
            started.set()
            await asyncio.sleep(0.001)

    async def scenario() -> None:
        task = asyncio.create_task(store.put("image-3", endless()))
        await started.wait()
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert list(store.datadir.iterdir()) == []


def test_periodic_flushes(store: FilesystemStore) -> None:
    store.flush_every = 10
    stored = asyncio.run(store.put("f", blocks(*[b"z" * 7] * 10)))
    assert stored.size == 70
    assert read(store, stored.url) == b"z" * 70


def test_unwritable_directory_is_a_store_error(store: FilesystemStore) -> None:
    if os.geteuid() == 0:
        store.datadir.rmdir()  # root ignores permissions; a missing directory fails the same way
    else:
        store.datadir.chmod(0o500)
    try:
        with pytest.raises(StoreError, match="Store local cannot write"):
            asyncio.run(store.put("x", blocks(b"data")))
    finally:
        if store.datadir.exists():
            store.datadir.chmod(0o750)


def test_partial_files_lists_crash_leftovers(store: FilesystemStore) -> None:
    leftover = store.datadir / f"abc.1234abcd{PARTIAL_SUFFIX}"
    leftover.write_bytes(b"half")
    (store.datadir / "complete").write_bytes(b"whole")
    assert store.partial_files() == [leftover]


# -- the registry of named stores ------------------------------------------------------------------------------
def test_registry_from_settings(tmp_path: Path) -> None:
    settings = load_settings(
        env={"GLIMPSE_ENABLED_BACKENDS": "fast:file,cheap:file", "GLIMPSE_DEFAULT_BACKEND": "cheap"},
        data_dir=tmp_path,
    )
    registry = build_registry(settings)
    assert [s.id for s in registry] == ["fast", "cheap"]
    assert registry.default_id == "cheap"
    assert registry.default.id == "cheap"
    assert "fast" in registry
    assert "slow" not in registry
    assert registry.for_upload(None).id == "cheap"
    assert registry.for_upload("fast").id == "fast"
    fast = registry.get("fast")
    assert isinstance(fast, FilesystemStore)
    assert fast.datadir == (tmp_path / "stores" / "fast").resolve()


def test_registry_unknown_stores(tmp_path: Path) -> None:
    registry = build_registry(load_settings(env={}, data_dir=tmp_path))
    with pytest.raises(NotFound, match="Unknown store nowhere"):
        registry.get("nowhere")
    with pytest.raises(BadRequest, match="Store for identifier nowhere not found"):
        registry.for_upload("nowhere")


def test_registry_orders_copies_by_weight(tmp_path: Path) -> None:
    light = FilesystemStore("light", tmp_path / "l", weight=1)
    heavy = FilesystemStore("heavy", tmp_path / "h", weight=10)
    tie = FilesystemStore("tie", tmp_path / "t", weight=1)
    registry = StoreRegistry({"light": light, "heavy": heavy, "tie": tie}, "light")
    assert [s.id for s in registry.by_weight(["tie", "light", "heavy"])] == ["heavy", "light", "tie"]
    assert [s.id for s in registry.by_weight(["gone", "tie"])] == ["tie"]


def test_registry_needs_its_default(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="default store"):
        StoreRegistry({"a": FilesystemStore("a", tmp_path / "a")}, "b")


def test_unknown_driver_type(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="driver type 'cinder' is not available"):
        load_settings(env={"GLIMPSE_ENABLED_BACKENDS": "tape:cinder"}, data_dir=tmp_path)


def test_check_passes_and_leaves_nothing(tmp_path: Path) -> None:
    store = FilesystemStore("fs", tmp_path / "fs")
    asyncio.run(store.check())
    assert list(store.datadir.iterdir()) == []


def test_check_fails_when_the_directory_is_gone(tmp_path: Path) -> None:
    store = FilesystemStore("fs", tmp_path / "fs")
    store.datadir.rmdir()
    with pytest.raises(StoreError, match="Store fs cannot write to its directory") as caught:
        asyncio.run(store.check())
    assert str(store.datadir) not in caught.value.message  # the message may reach unauthenticated callers


def test_check_fails_when_the_directory_is_a_file(tmp_path: Path) -> None:
    store = FilesystemStore("fs", tmp_path / "fs")
    store.datadir.rmdir()
    store.datadir.write_bytes(b"not a directory")
    with pytest.raises(StoreError):
        asyncio.run(store.check())


# -- listing, and the disk's errors as the store's own ----------------------------------------------------------
def listed(store: FilesystemStore) -> list[ListedObject]:
    async def collect() -> list[ListedObject]:
        return [obj async for obj in store.list_objects()]

    return asyncio.run(collect())


def test_list_objects_includes_crash_leftovers(store: FilesystemStore) -> None:
    stored = asyncio.run(store.put("image-1", blocks(b"whole")))
    leftover = store.datadir / f"image-2.1234abcd{PARTIAL_SUFFIX}"
    leftover.write_bytes(b"half")
    (store.datadir / "subdir").mkdir()
    (store.datadir / "link").symlink_to(store.datadir / "image-1")
    assert listed(store) == [
        ListedObject(url=stored.url, size=5, key="image-1", partial=False),
        ListedObject(url=leftover.as_uri(), size=4, key="image-2", partial=True),
    ]


def test_listing_a_missing_directory_is_a_store_error(store: FilesystemStore) -> None:
    store.datadir.rmdir()
    with pytest.raises(StoreError, match="Store local cannot list its directory"):
        listed(store)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_a_full_disk_is_storage_full(store: FilesystemStore, monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    def full(fd: int, direct: int | None, block: object, offset: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(filesystem, "_write_at", full)
    with pytest.raises(StorageFull, match="Image storage media is full: store local has no space left"):
        asyncio.run(store.put("big", blocks(b"a" * 100, b"b" * 100)))
    assert list(store.datadir.iterdir()) == []


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES, errno.EPERM])
def test_a_refused_write_is_storage_write_denied(
    store: FilesystemStore, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    real_open = os.open

    def refusing(path: object, flags: int, *args: int) -> int:
        if str(path).endswith(PARTIAL_SUFFIX):
            raise OSError(code, os.strerror(code))
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(filesystem.os, "open", refusing)
    with pytest.raises(StorageWriteDenied, match=f"Store local cannot write: {os.strerror(code)}"):
        asyncio.run(store.put("x", blocks(b"data")))


def test_other_write_errors_stay_store_errors(store: FilesystemStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(fd: int, direct: int | None, block: object, offset: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(filesystem, "_write_at", broken)
    with pytest.raises(StoreError, match="Store local failed to write: Input/output error") as caught:
        asyncio.run(store.put("x", blocks(b"data")))
    assert type(caught.value) is StoreError


def test_a_refused_delete_is_a_store_error(store: FilesystemStore, monkeypatch: pytest.MonkeyPatch) -> None:
    stored = asyncio.run(store.put("d", blocks(b"abc")))

    def refusing(self: Path, missing_ok: bool = False) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(Path, "unlink", refusing)
    with pytest.raises(StorageWriteDenied, match="Read-only file system"):
        asyncio.run(store.delete(stored.url))


def test_an_unreadable_object_is_a_store_error(store: FilesystemStore, monkeypatch: pytest.MonkeyPatch) -> None:
    stored = asyncio.run(store.put("r", blocks(b"abc")))

    def refusing(self: Path, *args: object, **kwargs: object) -> os.stat_result:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(Path, "stat", refusing)
    with pytest.raises(StoreError, match="Store local cannot read: Input/output error"):
        asyncio.run(store.stat(stored.url))


# -- the write path: O_DIRECT for whole aligned blocks ------------------------------------------------------
def _pooled(*payloads: bytes) -> list[memoryview]:
    """Blocks as the data pipeline hands them over: page-aligned buffers (anonymous mmap)."""
    import mmap

    views = []
    for payload in payloads:
        buffer = mmap.mmap(-1, max(len(payload), 1))
        buffer[: len(payload)] = payload
        views.append(memoryview(buffer)[: len(payload)])
    return views


def _direct_supported(directory: Path) -> bool:
    probe = directory / "probe"
    probe.write_bytes(b"")
    try:
        fd = filesystem._open_direct(probe)
        if fd is not None:
            os.close(fd)
        return fd is not None
    finally:
        probe.unlink()


def _direct_writes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bool, int]]:
    """Record each write: whether it went through the O_DIRECT descriptor, and its length."""
    calls: list[tuple[bool, int]] = []
    real = filesystem._write_at

    def spy(fd: int, direct: int | None, block: filesystem.Block, offset: int) -> None:
        calls.append((direct is not None, len(memoryview(block))))
        real(fd, direct, block, offset)

    monkeypatch.setattr(filesystem, "_write_at", spy)
    return calls


@pytest.mark.parametrize("direct_io", [True, False])
def test_aligned_blocks_bypass_the_page_cache_and_the_rest_does_not(
    store: FilesystemStore, monkeypatch: pytest.MonkeyPatch, direct_io: bool
) -> None:
    calls = _direct_writes(monkeypatch)
    store.direct_io = direct_io
    payloads = [os.urandom(64 * 1024), os.urandom(64 * 1024), os.urandom(1000)]

    async def source() -> AsyncIterator[memoryview]:
        for view in _pooled(*payloads):
            yield view
        yield memoryview(bytearray(b"tail"))  # not page-aligned

    stored = asyncio.run(store.put("img", source()))
    assert read(store, stored.url) == b"".join(payloads) + b"tail"
    supported = direct_io and _direct_supported(store.datadir)
    assert calls == [(supported, 65536), (supported, 65536), (False, 1000), (False, 4)]


def test_without_o_direct_support_every_block_is_written_through_the_cache(
    store: FilesystemStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def no_direct(path: object, flags: int, *args: int) -> int:
        if flags & getattr(os, "O_DIRECT", 0):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))  # as tmpfs on older kernels answers
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(filesystem.os, "open", no_direct)
    calls = _direct_writes(monkeypatch)
    payload = os.urandom(3 * 4096)

    async def source() -> AsyncIterator[memoryview]:
        for view in _pooled(payload):
            yield view

    stored = asyncio.run(store.put("img", source()))
    assert read(store, stored.url) == payload
    assert calls == [(False, 3 * 4096)]
