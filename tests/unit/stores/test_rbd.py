"""glimpse.stores.rbd on the real single-node Ceph of scripts/ceph-up (each test in its own RBD namespace)."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import rados
import rbd

from glimpse.errors import (
    Conflict,
    NotFound,
    StorageFull,
    StorageWriteDenied,
    StoreError,
    StoreUnavailable,
)
from glimpse.settings import RbdStoreOptions
from glimpse.stores import rbd as rbd_store
from glimpse.stores.base import ListedObject
from glimpse.stores.rbd import RbdStore, from_options
from tests.contract.backends.rbd import admin_ioctx, ceph_conf, new_rbd_store

MB = 1 << 20


@pytest.fixture
def store() -> Iterator[RbdStore]:
    with new_rbd_store(chunk_size_mb=1) as made:
        yield made


@pytest.fixture
def thin_store() -> Iterator[RbdStore]:
    with new_rbd_store(chunk_size_mb=1, thin_provisioning=True) as made:
        yield made


async def blocks(data: bytes, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
        await asyncio.sleep(0)


async def read(store: RbdStore, url: str, start: int = 0, length: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.open(url, start, length)])


def image_names(store: RbdStore) -> list[str]:
    with admin_ioctx(store.namespace) as ioctx:
        return sorted(rbd.RBD().list(ioctx))


def image_size(store: RbdStore, name: str) -> int:
    with admin_ioctx(store.namespace) as ioctx, rbd.Image(ioctx, name, read_only=True) as image:
        return int(image.size())


async def wait_for(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not await asyncio.to_thread(condition):  # noqa: ASYNC110 - polling the cluster, not a local event
            await asyncio.sleep(0.02)


def cluster_fsid() -> str:
    cluster = rados.Rados(conffile=ceph_conf())
    cluster.connect(timeout=10)
    try:
        return str(cluster.get_fsid())
    finally:
        cluster.shutdown()


# -- writing ------------------------------------------------------------------------------------------------


def test_a_size_hint_makes_the_image_at_its_final_size_before_any_data(store: RbdStore) -> None:
    data = os.urandom(5 * MB + 123)
    release = asyncio.Event()
    sizes: list[int] = []

    async def paused() -> AsyncIterator[bytes]:
        yield data[:100]
        await release.wait()
        async for block in blocks(data[100:]):
            yield block

    async def scenario() -> None:
        task = asyncio.create_task(store.put("hinted", paused(), size_hint=len(data)))
        await wait_for(lambda: image_names(store) == ["hinted"])
        sizes.append(image_size(store, "hinted"))
        release.set()
        stored = await task
        assert stored.size == len(data)
        assert await read(store, stored.url) == data

    asyncio.run(scenario())
    assert sizes == [len(data)]
    assert image_size(store, "hinted") == len(data)


def test_without_a_hint_the_image_grows_one_object_at_a_time_then_is_trimmed(store: RbdStore) -> None:
    data = os.urandom(3 * MB + 5)
    release = asyncio.Event()
    sizes: list[int] = []

    async def paused() -> AsyncIterator[bytes]:
        yield data[: MB + MB // 2]  # one whole object goes to the image, half of the next is buffered
        await release.wait()
        yield data[MB + MB // 2 :]

    async def scenario() -> None:
        task = asyncio.create_task(store.put("growing", paused()))
        await wait_for(lambda: image_names(store) == ["growing"] and image_size(store, "growing") > 0)
        sizes.append(image_size(store, "growing"))
        release.set()
        stored = await task
        assert stored.size == len(data)
        assert await read(store, stored.url) == data

    asyncio.run(scenario())
    assert sizes == [MB]
    assert image_size(store, "growing") == len(data)


@pytest.mark.parametrize("hint_delta", [-2 * MB, -1, 1, 3 * MB])
def test_a_wrong_size_hint_still_stores_exactly_the_data(store: RbdStore, hint_delta: int) -> None:
    data = os.urandom(4 * MB + 7)

    async def scenario() -> None:
        stored = await store.put("wrong-hint", blocks(data), size_hint=len(data) + hint_delta)
        assert stored.size == len(data)
        assert await store.stat(stored.url) == len(data)
        assert await read(store, stored.url) == data

    asyncio.run(scenario())
    assert image_size(store, "wrong-hint") == len(data)


def test_an_empty_image(store: RbdStore) -> None:
    async def scenario() -> None:
        stored = await store.put("empty", blocks(b""), size_hint=0)
        assert stored.size == 0
        assert await store.stat(stored.url) == 0
        assert await read(store, stored.url) == b""

    asyncio.run(scenario())


def test_the_location_names_cluster_pool_namespace_image_and_snapshot(store: RbdStore) -> None:
    stored = asyncio.run(store.put("located", blocks(b"abc")))
    assert stored.url == f"rbd://{cluster_fsid()}/images/{store.namespace}/located/snap"


def test_the_location_in_the_default_namespace_has_glances_form() -> None:
    plain = RbdStore("ceph", conffile=ceph_conf())
    assert plain.url_for("f-s-i-d", "abc") == "rbd://f-s-i-d/images/abc/snap"


def test_the_snapshot_is_protected_and_clones_keep_the_image_from_being_deleted(store: RbdStore) -> None:
    data = os.urandom(2 * MB + 9)
    stored = asyncio.run(store.put("parent", blocks(data)))
    with admin_ioctx(store.namespace) as ioctx:
        with rbd.Image(ioctx, "parent", read_only=True) as image:
            assert [snap["name"] for snap in image.list_snaps()] == ["snap"]
            assert image.is_protected_snap("snap")
            assert image.features() & rbd.RBD_FEATURE_LAYERING
        rbd.RBD().clone(ioctx, "parent", "snap", ioctx, "vm-disk", features=rbd.RBD_FEATURE_LAYERING)
        with rbd.Image(ioctx, "vm-disk", read_only=True) as clone:
            assert clone.read(0, len(data)) == data

    with pytest.raises(Conflict, match="in use"):
        asyncio.run(store.delete(stored.url))
    # nothing was taken from the image: still readable, snapshot still protected
    assert asyncio.run(read(store, stored.url)) == data
    with admin_ioctx(store.namespace) as ioctx:
        with rbd.Image(ioctx, "parent", read_only=True) as image:
            assert image.is_protected_snap("snap")
        rbd.RBD().remove(ioctx, "vm-disk")

    asyncio.run(store.delete(stored.url))
    assert asyncio.run(store.stat(stored.url)) is None
    assert image_names(store) == []


def test_a_key_already_in_the_pool_is_a_conflict_and_the_image_there_is_left_alone(store: RbdStore) -> None:
    first = asyncio.run(store.put("taken", blocks(b"first")))
    with pytest.raises(Conflict, match="already holds"):
        asyncio.run(store.put("taken", blocks(b"second")))
    assert asyncio.run(read(store, first.url)) == b"first"


def test_keys_that_cannot_name_an_rbd_image_are_refused(store: RbdStore) -> None:
    for key in ("a/b", "a@b", ""):
        with pytest.raises(StoreError, match="cannot name"):
            asyncio.run(store.put(key, blocks(b"x")))
    assert image_names(store) == []


# -- thin provisioning ----------------------------------------------------------------------------------------


def allocated_bytes(store: RbdStore, name: str) -> int:
    """Bytes of the image's snapshot that exist in RADOS (diff against nothing: the allocated extents)."""
    extents: list[tuple[int, int, bool]] = []
    with admin_ioctx(store.namespace) as ioctx, rbd.Image(ioctx, name, snapshot="snap", read_only=True) as image:
        image.diff_iterate(
            0, image.size(), None, lambda offset, length, exists: extents.append((offset, length, exists))
        )
    return sum(length for _, length, exists in extents if exists)


@pytest.mark.parametrize("size_hint", [None, 5 * MB])
def test_thin_provisioning_skips_the_zero_chunks(thin_store: RbdStore, size_hint: int | None) -> None:
    data = os.urandom(MB) + bytes(3 * MB) + os.urandom(MB)
    stored = asyncio.run(thin_store.put("sparse", blocks(data), size_hint=size_hint))
    assert asyncio.run(read(thin_store, stored.url)) == data
    assert allocated_bytes(thin_store, "sparse") == 2 * MB


def test_without_thin_provisioning_zeros_are_written(store: RbdStore) -> None:
    data = os.urandom(MB) + bytes(3 * MB) + os.urandom(MB)
    stored = asyncio.run(store.put("dense", blocks(data)))
    assert asyncio.run(read(store, stored.url)) == data
    assert allocated_bytes(store, "dense") == 5 * MB


def test_a_zero_tail_is_still_part_of_the_image(thin_store: RbdStore) -> None:
    data = os.urandom(MB // 2) + bytes(2 * MB + 11)
    stored = asyncio.run(thin_store.put("zero-tail", blocks(data)))
    assert stored.size == len(data)
    assert asyncio.run(thin_store.stat(stored.url)) == len(data)
    assert asyncio.run(read(thin_store, stored.url)) == data


# -- failures leave nothing ---------------------------------------------------------------------------------


class Broken(Exception):
    pass


@pytest.mark.parametrize("size_hint", [None, 10 * MB])
def test_a_failing_source_leaves_no_image(store: RbdStore, size_hint: int | None) -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield os.urandom(3 * MB + 1)
        raise Broken

    with pytest.raises(Broken):
        asyncio.run(store.put("broken", failing(), size_hint=size_hint))
    assert image_names(store) == []


def test_a_cancelled_put_leaves_no_image(store: RbdStore) -> None:
    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield os.urandom(MB)
            await asyncio.sleep(0.01)

    async def scenario() -> None:
        task = asyncio.create_task(store.put("cancelled", endless()))
        await wait_for(lambda: image_names(store) == ["cancelled"] and image_size(store, "cancelled") >= 2 * MB)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert image_names(store) == []


def mon_command(**command: Any) -> Any:
    cluster = rados.Rados(conffile=ceph_conf())
    cluster.connect(timeout=10)
    try:
        ret, out, message = cluster.mon_command(json.dumps({**command, "format": "json"}), b"", timeout=30)
    finally:
        cluster.shutdown()
    assert ret == 0, message
    return json.loads(out) if out else None


def pool_flags(pool: str) -> list[str]:
    pools = {
        entry["pool_name"]: str(entry["flags_names"]) for entry in mon_command(prefix="osd pool ls", detail="detail")
    }
    return pools[pool].split(",")


@pytest.fixture
def small_pool() -> Iterator[str]:
    """A pool of its own (one placement group), for the test that fills it up."""
    pool = f"glimpse-test-{os.urandom(4).hex()}"
    mon_command(prefix="osd pool create", pool=pool, pg_num=1, pgp_num=1)
    try:
        mon_command(prefix="osd pool application enable", pool=pool, app="rbd")
        yield pool
    finally:
        mon_command(prefix="osd pool rm", pool=pool, pool2=pool, yes_i_really_really_mean_it=True)


def fill_up(pool: str) -> None:
    """Give the pool a quota it already exceeds and wait until the cluster marks it full."""
    cluster = rados.Rados(conffile=ceph_conf())
    cluster.connect(timeout=10)
    try:
        with cluster.open_ioctx(pool) as ioctx:
            ioctx.write_full("filler", b"x")
            # like any pool where an image was ever removed, it has its trash object: librbd moves an image
            # there on the way out, and the first move (a new object) is refused once the pool is full
            rbd.RBD().create(ioctx, "earlier", MB, old_format=False)
            rbd.RBD().remove(ioctx, "earlier")
    finally:
        cluster.shutdown()
    mon_command(prefix="osd pool set-quota", pool=pool, field="max_objects", val="1")
    deadline = time.monotonic() + 60
    while "full_quota" not in pool_flags(pool):
        assert time.monotonic() < deadline, "the pool was not marked full"
        time.sleep(0.2)


@pytest.mark.parametrize("when", ["before", "during"])
def test_a_full_pool_is_storage_full_and_leaves_no_image(small_pool: str, when: str) -> None:
    store = RbdStore("ceph", conffile=ceph_conf(), pool=small_pool, chunk_size_mb=1)
    release = asyncio.Event()

    async def paused() -> AsyncIterator[bytes]:
        yield os.urandom(MB)
        await release.wait()
        yield os.urandom(2 * MB)

    async def scenario() -> None:
        if when == "before":
            await asyncio.to_thread(fill_up, small_pool)
        task = asyncio.create_task(store.put("too-big", paused(), size_hint=3 * MB))
        if when == "during":
            await wait_for(lambda: images_in(small_pool) == ["too-big"])
            await asyncio.to_thread(fill_up, small_pool)
        release.set()
        with pytest.raises(StorageFull, match="full"):
            await asyncio.wait_for(task, timeout=60)

    try:
        asyncio.run(scenario())
    finally:
        store.close()
    assert images_in(small_pool) == []


def images_in(pool: str) -> list[str]:
    cluster = rados.Rados(conffile=ceph_conf())
    cluster.connect(timeout=10)
    try:
        with cluster.open_ioctx(pool) as ioctx:
            return sorted(rbd.RBD().list(ioctx))
    finally:
        cluster.shutdown()


# -- reading, listing, deleting ------------------------------------------------------------------------------


def test_reads_come_in_chunk_size_blocks_across_object_boundaries(store: RbdStore) -> None:
    data = os.urandom(3 * MB + 17)
    stored = asyncio.run(store.put("ranged", blocks(data)))

    async def chunks(start: int, length: int | None) -> list[bytes]:
        return [chunk async for chunk in store.open(stored.url, start, length)]

    whole = asyncio.run(chunks(0, None))
    assert b"".join(whole) == data
    assert {len(chunk) for chunk in whole[:-1]} == {store.chunk_size}
    for start, length in [(MB - 10, 20), (0, 1), (len(data) - 1, None), (5, 2 * MB), (len(data), None)]:
        expected = data[start:] if length is None else data[start : start + length]
        assert b"".join(asyncio.run(chunks(start, length))) == expected
    # a range past the end stops at the end
    assert b"".join(asyncio.run(chunks(len(data) - 3, 100))) == data[-3:]


def test_an_unfinished_image_is_listed_as_partial(store: RbdStore) -> None:
    done = asyncio.run(store.put("done", blocks(b"abc")))
    with admin_ioctx(store.namespace) as ioctx:
        rbd.RBD().create(ioctx, "leftover", 5 * MB, old_format=False)
    listed = asyncio.run(collect(store.list_objects()))
    assert listed == [
        ListedObject(url=done.url, size=3, key="done", partial=False),
        ListedObject(url=done.url.replace("/done/", "/leftover/"), size=5 * MB, key="leftover", partial=True),
    ]
    # a location handed out for an unfinished image reads as missing (its snapshot does not exist yet)
    leftover = listed[1].url
    assert asyncio.run(store.stat(leftover)) is None
    with pytest.raises(NotFound):
        asyncio.run(read(store, leftover))
    asyncio.run(store.delete(leftover))
    assert image_names(store) == ["done"]


async def collect(items: AsyncIterator[ListedObject]) -> list[ListedObject]:
    return [item async for item in items]


def test_locations_of_other_clusters_pools_and_schemes_are_not_found(store: RbdStore) -> None:
    stored = asyncio.run(store.put("mine", blocks(b"abc")))
    fsid = cluster_fsid()
    for url in [
        stored.url.replace(fsid, "00000000-1111-2222-3333-444444444444"),
        f"rbd://{fsid}/other-pool/{store.namespace}/mine/snap",
        f"rbd://{fsid}/images/mine/snap",  # the default namespace, not this store's
        "file:///var/lib/glance/images/mine",
        "rbd://",
    ]:
        with pytest.raises(NotFound):
            asyncio.run(store.stat(url))
        with pytest.raises(NotFound):
            asyncio.run(read(store, url))
        with pytest.raises(NotFound):
            asyncio.run(store.delete(url))
    assert asyncio.run(store.stat(stored.url)) == 3


def test_owns_only_its_pool_namespace_and_cluster(store: RbdStore) -> None:
    fsid = cluster_fsid()
    assert store.owns(f"rbd://{fsid}/images/{store.namespace}/abc/snap")
    assert store.owns(f"rbd://{fsid}/images/{store.namespace}/abc%20d/snap")
    for url in [
        f"rbd://{fsid}/images/abc/snap",
        f"rbd://{fsid}/images/other/abc/snap",
        f"rbd://{fsid}/vms/{store.namespace}/abc/snap",
        f"rbd://00000000-1111-2222-3333-444444444444/images/{store.namespace}/abc/snap",
        f"rbd://{fsid}/images/{store.namespace}//snap",
        f"file:///images/{store.namespace}/abc/snap",
        "rbd://abc",  # the oldest form has no namespace
        "rbd://[",
    ]:
        assert not store.owns(url), url
    plain = RbdStore("ceph", conffile=ceph_conf())
    assert plain.owns(f"rbd://{fsid}/images/abc/snap")
    assert plain.owns("rbd://abc")
    assert not plain.owns(f"rbd://{fsid}/images/{store.namespace}/abc/snap")


def test_deleting_removes_snapshot_and_image(store: RbdStore) -> None:
    stored = asyncio.run(store.put("gone", blocks(os.urandom(MB + 1))))
    asyncio.run(store.delete(stored.url))
    assert image_names(store) == []
    asyncio.run(store.delete(stored.url))


# -- details, check, configuration --------------------------------------------------------------------------


def test_details_for_the_volume_to_image_optimisation(store: RbdStore) -> None:
    expected = {
        "pool": "images",
        "fsid": cluster_fsid(),
        "chunk_size": 1024 * 1024,
        "thin_provisioning": False,
        "namespace": store.namespace,
    }
    assert store.details() == expected  # not connected yet: the fsid comes from the configuration
    asyncio.run(store.check())
    assert store.details() == expected


def test_check_passes_and_leaves_nothing_behind(store: RbdStore) -> None:
    asyncio.run(store.check())
    with admin_ioctx(store.namespace) as ioctx:
        assert [obj.key for obj in ioctx.list_objects() if "healthcheck" in obj.key] == []


def unreachable_conf(tmp_path: Path) -> str:
    conf = tmp_path / "ceph.conf"
    conf.write_text(
        f"[global]\nfsid = {cluster_fsid()}\nmon host = v1:127.0.0.1:1\n"
        f"keyring = {Path(ceph_conf()).parent / 'ceph.client.admin.keyring'}\nlog to stderr = false\n"
        "err to stderr = false\n"
    )
    return str(conf)


def test_an_unreachable_cluster_is_unavailable(tmp_path: Path) -> None:
    store = RbdStore("ceph", conffile=unreachable_conf(tmp_path), connect_timeout=1)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="cannot connect"):
        asyncio.run(store.check())
    with pytest.raises(StoreUnavailable):
        asyncio.run(store.put("never", blocks(b"abc")))
    assert time.monotonic() - started < 15


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"pool": "no-such-pool"}, "pool no-such-pool does not exist"),
        ({"namespace": "no-such-namespace"}, "namespace no-such-namespace"),
        ({"conffile": "/nonexistent/ceph.conf"}, "configuration"),
    ],
)
def test_a_misconfigured_store_is_unavailable(options: dict[str, Any], message: str) -> None:
    store = RbdStore("ceph", **{"conffile": ceph_conf(), **options})
    try:
        with pytest.raises(StoreUnavailable, match=message):
            asyncio.run(store.check())
    finally:
        store.close()


def test_from_options_reads_glances_names() -> None:
    store = from_options(
        "ceph",
        RbdStoreOptions.model_validate(
            {
                "rbd_store_pool": "vms",
                "rbd_store_user": "glance",
                "rbd_store_ceph_conf": "/etc/ceph/other.conf",
                "rbd_store_chunk_size": "4",
                "rados_connect_timeout": "7",
                "rbd_thin_provisioning": "True",
                "rbd_store_namespace": "tenant-a",
            }
        ),
        description="Ceph",
        weight=5,
        chunk_size=65536,
    )
    assert (store.id, store.type, store.description, store.weight) == ("ceph", "rbd", "Ceph", 5)
    assert (store.pool, store.user, store.conffile, store.namespace) == (
        "vms",
        "glance",
        "/etc/ceph/other.conf",
        "tenant-a",
    )
    assert (store.chunk_size_mb, store.object_size, store.order) == (4, 4 * MB, 22)
    assert (store.connect_timeout, store.thin_provisioning, store.chunk_size) == (7, True, 65536)


def test_from_options_defaults() -> None:
    store = from_options("ceph", RbdStoreOptions(), description="", weight=0, chunk_size=MB)
    assert (store.pool, store.user, store.conffile, store.namespace) == ("images", None, "", "")
    assert (store.chunk_size_mb, store.order, store.thin_provisioning) == (8, 23, False)
    assert store.connect_timeout == rbd_store.DEFAULT_CONNECT_TIMEOUT


@pytest.mark.parametrize(
    "options",
    [
        {"rbd_store_chunk_size": "3"},
        {"rbd_store_chunk_size": "0"},
        {"rbd_store_chunk_size": "eight"},
        {"rbd_thin_provisioning": "maybe"},
        {"rados_connect_timeout": "soon"},
    ],
)
def test_from_options_refuses_bad_values(options: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=next(iter(options))):
        from_options("ceph", RbdStoreOptions.model_validate(options), description="", weight=0, chunk_size=MB)


@pytest.mark.parametrize(
    ("configured", "expected"),
    [("", 1), ("61", 61), ("60", 61), ("layering,exclusive-lock", 5), ("exclusive-lock, object-map", 13)],
)
def test_image_features_always_include_layering(configured: str, expected: int) -> None:
    assert rbd_store.features(configured) == expected


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (rbd.ImageNotFound("x", errno=errno.ENOENT), NotFound),
        (rbd.NoSpace("x", errno=errno.ENOSPC), StorageFull),
        (rbd.DiskQuotaExceeded("x", errno=errno.EDQUOT), StorageFull),
        (rbd.PermissionError("x", errno=errno.EPERM), StorageWriteDenied),
        (rados.PermissionDeniedError("x", errno=errno.EACCES), StorageWriteDenied),
        (rbd.ImageBusy("x", errno=errno.EBUSY), Conflict),
        (rados.TimedOut("x", errno=errno.ETIMEDOUT), StoreUnavailable),
        (rbd.ConnectionShutdown("x", errno=errno.ESHUTDOWN), StoreUnavailable),
        (rbd.IOError("x", errno=errno.EIO), StoreError),
    ],
)
def test_ceph_errors_are_translated_at_the_edge(error: Exception, expected: type[Exception]) -> None:
    translated = rbd_store.translate("ceph", error, "cannot write")
    assert type(translated) is expected
    assert "ceph" in translated.message
