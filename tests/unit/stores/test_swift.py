"""glimpse.stores.swift against the real Swift of scripts/swift-up: SLO segments, cleanup after failures,
ranges across segments, options, error translation, account isolation. (The store contract runs in
tests/contract.) When the server is down these tests fail."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import swiftclient

from glimpse.errors import NotFound, StorageFull, StoreError, StoreUnavailable
from glimpse.settings import SwiftStoreOptions
from glimpse.stores import swift
from glimpse.stores.base import ListedObject
from glimpse.stores.swift import MiB, SwiftAuth, SwiftStore, from_options
from tests.contract.backends.swift import (
    AUTH_URL,
    KEY,
    LARGE_OBJECT_SIZE,
    OTHER_KEY,
    OTHER_USER,
    SEGMENT_SIZE,
    USER,
    admin_connection,
    object_names,
    remove_container,
    swift_test_store,
    unique_container,
)

DATA = os.urandom(1_000_003)  # 8 segments of 128 KiB (the last one shorter)
KEYSTONE_URL = "http://127.0.0.1:5000/v3"  # scripts/keystone-up


async def blocks(data: bytes, size: int = 100_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
        await asyncio.sleep(0)


def read(store: SwiftStore, url: str, start: int = 0, length: int | None = None) -> bytes:
    async def collect() -> bytes:
        return b"".join([chunk async for chunk in store.open(url, start, length)])

    return asyncio.run(collect())


def listed(store: SwiftStore) -> list[ListedObject]:
    async def collect() -> list[ListedObject]:
        return [obj async for obj in store.list_objects()]

    return asyncio.run(collect())


@pytest.fixture
def store() -> Iterator[SwiftStore]:
    with swift_test_store() as made:
        yield made


@pytest.fixture
def admin() -> Iterator[swiftclient.Connection]:
    conn = admin_connection()
    yield conn
    conn.close()


def segments_of(admin: swiftclient.Connection, store: SwiftStore) -> list[str]:
    return object_names(admin, f"{store.container}_segments")


# -- writing ----------------------------------------------------------------------------------------------
def test_location_is_storage_url_container_and_key_without_credentials(
    store: SwiftStore, admin: swiftclient.Connection
) -> None:
    stored = asyncio.run(store.put("image-u", blocks(b"abc")))
    assert stored.url == f"swift+{admin.get_auth()[0]}/{store.container}/image-u"
    assert stored.url.startswith("swift+http://127.0.0.1:8080/v1/AUTH_glimpse/")
    assert KEY not in stored.url
    assert "@" not in stored.url


def test_a_small_image_is_one_plain_object(store: SwiftStore, admin: swiftclient.Connection) -> None:
    stored = asyncio.run(store.put("image-s", blocks(DATA[:LARGE_OBJECT_SIZE]), size_hint=LARGE_OBJECT_SIZE))
    headers = admin.head_object(store.container, "image-s")
    assert "x-static-large-object" not in headers
    assert int(headers["content-length"]) == stored.size == LARGE_OBJECT_SIZE
    assert segments_of(admin, store) == []


def test_an_unsized_small_image_is_one_plain_object(store: SwiftStore, admin: swiftclient.Connection) -> None:
    stored = asyncio.run(store.put("image-us", blocks(DATA[:1000])))
    assert stored.size == 1000
    assert "x-static-large-object" not in admin.head_object(store.container, "image-us")
    assert segments_of(admin, store) == []
    assert read(store, stored.url) == DATA[:1000]


def test_an_empty_image(store: SwiftStore) -> None:
    for key, hint in (("empty-hinted", 0), ("empty-unsized", None)):
        stored = asyncio.run(store.put(key, blocks(b""), size_hint=hint))
        assert stored.size == 0
        assert asyncio.run(store.stat(stored.url)) == 0
        assert read(store, stored.url) == b""


@pytest.mark.parametrize("size_hint", [len(DATA), None])
def test_a_large_image_is_a_static_large_object(
    store: SwiftStore, admin: swiftclient.Connection, size_hint: int | None
) -> None:
    stored = asyncio.run(store.put("image-l", blocks(DATA, 77_777), size_hint=size_hint))
    assert stored.size == len(DATA)
    headers = admin.head_object(store.container, "image-l")
    assert headers["x-static-large-object"].lower() == "true"
    assert int(headers["content-length"]) == len(DATA)
    segments = segments_of(admin, store)
    assert len(segments) == 8
    assert len({name.rsplit("/", 1)[0] for name in segments}) == 1  # one upload
    assert all(name.startswith("image-l/") for name in segments)
    manifest = json.loads(admin.get_object(store.container, "image-l", query_string="multipart-manifest=get")[1])
    assert [item["bytes"] for item in manifest] == [SEGMENT_SIZE] * 7 + [len(DATA) - 7 * SEGMENT_SIZE]
    assert read(store, stored.url) == DATA
    assert asyncio.run(store.stat(stored.url)) == len(DATA)


def test_memoryview_and_bytearray_blocks(store: SwiftStore) -> None:
    async def mixed() -> AsyncIterator[bytes | bytearray | memoryview]:
        yield bytearray(DATA[:300_000])
        yield memoryview(DATA)[300_000:]

    stored = asyncio.run(store.put("image-mv", mixed()))
    assert read(store, stored.url) == DATA


def test_segment_sizes_keep_a_manifest_within_swifts_limit() -> None:
    sizer = SwiftStore("s", SwiftAuth(AUTH_URL, USER, KEY, "1"), large_object_chunk_size=MiB)
    assert sizer._segment_size(0, 10 * MiB) == MiB
    assert sizer._segment_size(0, 5000 * MiB) == 5 * MiB  # 1000 segments at most
    assert sizer._segment_size(0, None) == MiB
    assert sizer._segment_size(swift.GROW_EVERY, None) == 2 * MiB  # an unsized stream's segments grow
    assert sizer._segment_size(10**6, None) == swift.MAX_OBJECT_SIZE


def test_a_failing_source_leaves_no_segment(store: SwiftStore, admin: swiftclient.Connection) -> None:
    class Broken(Exception):
        pass

    async def failing() -> AsyncIterator[bytes]:
        async for block in blocks(DATA[:700_000]):  # five segments written, the sixth under way
            yield block
        raise Broken

    for hint in (len(DATA), None):
        with pytest.raises(Broken):
            asyncio.run(store.put("image-f", failing(), size_hint=hint))
        assert segments_of(admin, store) == []
        assert object_names(admin, store.container) == []
    assert listed(store) == []


def test_a_failing_small_put_leaves_nothing(store: SwiftStore, admin: swiftclient.Connection) -> None:
    class Broken(Exception):
        pass

    async def failing() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        raise Broken

    with pytest.raises(Broken):
        asyncio.run(store.put("image-fs", failing(), size_hint=LARGE_OBJECT_SIZE))
    assert object_names(admin, store.container) == []


def test_a_cancelled_put_leaves_nothing(store: SwiftStore, admin: swiftclient.Connection) -> None:
    async def scenario() -> None:
        stall = asyncio.Event()

        async def slow() -> AsyncIterator[bytes]:
            async for block in blocks(DATA[:500_000]):
                yield block
            await stall.wait()
            yield b"never"

        task = asyncio.create_task(store.put("image-c", slow(), size_hint=len(DATA)))
        for _ in range(200):
            await asyncio.sleep(0.01)
            if segments_of(admin, store):
                break
        assert segments_of(admin, store)  # segments were being written
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert segments_of(admin, store) == []
    assert object_names(admin, store.container) == []


def test_swift_refusing_a_segment_is_storage_full_and_leaves_nothing(
    store: SwiftStore, admin: swiftclient.Connection
) -> None:
    segments = f"{store.container}_segments"
    admin.put_container(store.container)
    admin.put_container(segments, headers={"X-Container-Meta-Quota-Bytes": str(3 * SEGMENT_SIZE)})
    with pytest.raises(StorageFull):
        asyncio.run(store.put("image-q", blocks(DATA), size_hint=len(DATA)))
    assert segments_of(admin, store) == []
    assert object_names(admin, store.container) == []


def test_a_missing_container_is_an_error_unless_the_store_creates_it(admin: swiftclient.Connection) -> None:
    with swift_test_store(create_container_on_put=False) as store:
        with pytest.raises(StoreUnavailable, match="does not exist"):
            asyncio.run(store.check())
        with pytest.raises(StoreError, match="does not exist"):
            asyncio.run(store.put("image-m", blocks(b"abc")))
        admin.put_container(store.container)
        asyncio.run(store.check())
        asyncio.run(store.put("image-m", blocks(b"abc")))
    with swift_test_store(create_container_on_put=True) as store:
        asyncio.run(store.check())  # missing, but the first put creates it


def test_an_expired_token_is_renewed_before_a_streamed_put(store: SwiftStore) -> None:
    asyncio.run(store.put("image-t1", blocks(b"abc")))
    for conn in store._idle:
        conn.token = "AUTH_tk-expired"
    store._token = "AUTH_tk-expired"
    stored = asyncio.run(store.put("image-t2", blocks(DATA), size_hint=len(DATA)))
    assert read(store, stored.url) == DATA


def test_concurrent_large_puts(store: SwiftStore) -> None:
    payloads = {f"image-p{i}": os.urandom(400_000 + i) for i in range(4)}

    async def scenario() -> None:
        stored = await asyncio.gather(*(store.put(key, blocks(data, 50_000)) for key, data in payloads.items()))
        for obj, data in zip(stored, payloads.values(), strict=True):
            assert b"".join([chunk async for chunk in store.open(obj.url)]) == data

    asyncio.run(scenario())


# -- reading ----------------------------------------------------------------------------------------------
def test_ranges_across_segment_boundaries(store: SwiftStore) -> None:
    stored = asyncio.run(store.put("image-r", blocks(DATA), size_hint=len(DATA)))
    cases = [
        (SEGMENT_SIZE - 10, 20),  # over the first boundary
        (SEGMENT_SIZE, SEGMENT_SIZE),  # exactly the second segment
        (SEGMENT_SIZE - 1, 3 * SEGMENT_SIZE + 2),  # several segments
        (0, 1),
        (len(DATA) - 1, 1),
        (5 * SEGMENT_SIZE + 7, None),  # to the end
        (0, None),
    ]
    for start, length in cases:
        end = len(DATA) if length is None else start + length
        assert read(store, stored.url, start, length) == DATA[start:end], (start, length)
    assert read(store, stored.url, 100, 0) == b""


def test_reading_in_chunks_of_the_configured_size(store: SwiftStore) -> None:
    stored = asyncio.run(store.put("image-ch", blocks(DATA)))

    async def sizes() -> list[int]:
        return [len(chunk) async for chunk in store.open(stored.url)]

    found = asyncio.run(sizes())
    assert sum(found) == len(DATA)
    assert max(found) <= store.chunk_size


def test_a_reader_that_stops_early_does_not_spoil_the_pool(store: SwiftStore) -> None:
    stored = asyncio.run(store.put("image-e", blocks(DATA)))

    async def first_chunk() -> bytes:
        stream = store.open(stored.url)
        chunk = await anext(aiter(stream))
        await stream.aclose()  # type: ignore[attr-defined]
        return chunk

    assert asyncio.run(first_chunk()) == DATA[: store.chunk_size]
    assert read(store, stored.url) == DATA
    assert asyncio.run(store.stat(stored.url)) == len(DATA)


def test_missing_object(store: SwiftStore, admin: swiftclient.Connection) -> None:
    url = asyncio.run(store.put("image-x", blocks(b"abc"))).url
    admin.delete_object(store.container, "image-x")
    assert asyncio.run(store.stat(url)) is None
    with pytest.raises(NotFound):
        read(store, url)
    asyncio.run(store.delete(url))


def test_urls_of_other_containers_or_schemes_are_not_this_stores(store: SwiftStore) -> None:
    stored = asyncio.run(store.put("image-o", blocks(b"abc")))
    for url in (
        stored.url.replace(store.container, "someone-elses"),
        f"file:///tmp/{store.container}/image-o",
        "swift+http://127.0.0.1:8080/image-o",
        stored.url.replace("/AUTH_glimpse/", "/AUTH_other/"),  # another account's container of the same name
    ):
        with pytest.raises(NotFound):
            asyncio.run(store.stat(url))
        with pytest.raises(NotFound):
            asyncio.run(store.delete(url))


def test_glance_style_locations_are_read_by_container_and_object(store: SwiftStore) -> None:
    asyncio.run(store.put("image-g", blocks(b"glance")))
    for url in (
        f"swift+http://glimpse%3Aglimpse:glimpse-secret@127.0.0.1:8080/auth/v1.0/{store.container}/image-g",
        f"swift+config://ref1/{store.container}/image-g",
    ):
        assert asyncio.run(store.stat(url)) == 6
        assert read(store, url) == b"glance"


# -- deleting and listing ---------------------------------------------------------------------------------
def test_delete_removes_the_manifest_and_its_segments(store: SwiftStore, admin: swiftclient.Connection) -> None:
    large = asyncio.run(store.put("image-d", blocks(DATA)))
    small = asyncio.run(store.put("image-d2", blocks(b"abc")))
    assert len(segments_of(admin, store)) == 8
    asyncio.run(store.delete(large.url))
    assert segments_of(admin, store) == []
    assert object_names(admin, store.container) == ["image-d2"]
    asyncio.run(store.delete(large.url))  # missing: not an error
    asyncio.run(store.delete(small.url))
    assert object_names(admin, store.container) == []


def test_orphan_segments_are_listed_as_partial_and_deletable(store: SwiftStore, admin: swiftclient.Connection) -> None:
    complete = asyncio.run(store.put("image-k", blocks(DATA)))
    segments = f"{store.container}_segments"
    # what a crash leaves: segments of an upload that never wrote its manifest, for a new image and for
    # an earlier attempt at an image that was stored after all
    for group in ("image-crashed/0123456789abcdef", "image-k/fedcba9876543210"):
        for index in (1, 2):
            admin.put_object(segments, f"{group}/{index:08d}", b"s" * 10)
    found = {obj.url: obj for obj in listed(store)}
    prefix = complete.url.rsplit("/", 2)[0]
    partial = {obj.key: obj for obj in found.values() if obj.partial}
    assert set(partial) == {"image-crashed", "image-k"}
    assert partial["image-crashed"] == ListedObject(
        url=f"{prefix}/{segments}/image-crashed/0123456789abcdef/", size=20, key="image-crashed", partial=True
    )
    assert found[complete.url] == ListedObject(url=complete.url, size=len(DATA), key="image-k")
    assert len(found) == 3
    for obj in partial.values():
        asyncio.run(store.delete(obj.url))
    assert listed(store) == [ListedObject(url=complete.url, size=len(DATA), key="image-k")]
    assert read(store, complete.url) == DATA  # the live image's own segments stayed


def test_multiple_containers(admin: swiftclient.Connection) -> None:
    with swift_test_store(multiple_containers_seed=2) as store:
        first = asyncio.run(store.put("ab-image", blocks(b"abc")))
        second = asyncio.run(store.put("cd-image", blocks(DATA)))
        assert f"/{store.container}_ab/ab-image" in first.url
        assert f"/{store.container}_cd/cd-image" in second.url
        assert object_names(admin, f"{store.container}_cd_segments")
        assert sorted((obj.key, obj.size, obj.partial) for obj in listed(store)) == [
            ("ab-image", 3, False),
            ("cd-image", len(DATA), False),
        ]
        assert read(store, second.url) == DATA
        asyncio.run(store.delete(second.url))
        assert object_names(admin, f"{store.container}_cd_segments") == []


def test_details(store: SwiftStore) -> None:
    assert store.details() == {
        "container": store.container,
        "large_object_size": LARGE_OBJECT_SIZE,
        "large_object_chunk_size": SEGMENT_SIZE,
    }


# -- accounts and errors ----------------------------------------------------------------------------------
def test_accounts_are_isolated(store: SwiftStore) -> None:
    stored = asyncio.run(store.put("image-a", blocks(b"mine")))
    with swift_test_store(user=OTHER_USER, key=OTHER_KEY, container=store.container) as other:
        assert listed(other) == []
        asyncio.run(other.put("image-a", blocks(b"theirs")))
        other_url = listed(other)[0].url
        assert "/AUTH_other/" in other_url
        assert read(other, other_url) == b"theirs"
    assert read(store, stored.url) == b"mine"
    conn = admin_connection(OTHER_USER, OTHER_KEY)
    try:
        with pytest.raises(swiftclient.ClientException) as refused:
            conn.get_object(store.container, "image-a", headers={}, query_string=None)
        assert refused.value.http_status == 404  # its own account has no such object
        storage = stored.url.removeprefix("swift+").rsplit("/", 2)[0]
        with pytest.raises(swiftclient.ClientException) as refused:
            swiftclient.client.get_object(storage, conn.get_auth()[1], store.container, "image-a")
        assert refused.value.http_status == 403  # and may not read ours
    finally:
        conn.close()


def test_a_wrong_key_is_a_clear_unavailable_store() -> None:
    bad = SwiftStore("bad", SwiftAuth(AUTH_URL, USER, "wrong-key", "1"), container=unique_container())
    with pytest.raises(StoreUnavailable, match="refused our credentials"):
        asyncio.run(bad.check())
    with pytest.raises(StoreUnavailable, match="refused our credentials"):
        asyncio.run(bad.put("image-w", blocks(b"abc")))
    with pytest.raises(StoreUnavailable):
        asyncio.run(bad.stat("swift+http://127.0.0.1:8080/v1/AUTH_glimpse/c/o"))


def test_an_unreachable_swift_is_unavailable() -> None:
    down = SwiftStore("down", SwiftAuth("http://127.0.0.1:9/auth/v1.0", USER, KEY, "1"))
    with pytest.raises(StoreUnavailable, match="cannot reach Swift"):
        asyncio.run(down.check())


def test_a_swift_that_goes_away_mid_read_is_a_store_error(store: SwiftStore) -> None:
    stored = asyncio.run(store.put("image-gone", blocks(DATA)))

    class Dropped:
        def __next__(self) -> bytes:
            raise ConnectionResetError("connection reset by peer")

    original = swiftclient.Connection.get_object

    def dropping(self: swiftclient.Connection, *args: object, **kwargs: object) -> tuple[object, object]:
        headers, _ = original(self, *args, **kwargs)
        return headers, Dropped()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(swiftclient.Connection, "get_object", dropping)
        with pytest.raises(StoreUnavailable, match="reading"):
            read(store, stored.url)


@pytest.mark.parametrize(
    ("status", "expected"),
    [(401, StoreUnavailable), (403, StoreUnavailable), (413, StorageFull), (507, StorageFull),
     (503, StoreUnavailable), (409, StoreError), (422, StoreError)],
)  # fmt: skip
def test_swift_statuses_become_store_errors(status: int, expected: type[StoreError]) -> None:
    error = swift.failure("s", swiftclient.ClientException("boom", http_status=status), "cannot write")
    assert type(error) is expected
    assert "store s cannot write" in error.message.lower()


def test_keystone_authentication(tmp_path: Path) -> None:
    """Keystone v3 signs in the store (scripts/keystone-up's service user); the test Swift runs tempauth, so
    it then refuses the Keystone token: what matters is which of the two says no."""
    options = {
        "swift_store_auth_address": KEYSTONE_URL,
        "swift_store_user": "service:glimpse",
        "swift_store_key": "glimpse-service-password",
        "swift_store_auth_version": "3",
        "swift_store_endpoint": "http://127.0.0.1:8080/v1/AUTH_glimpse",
    }
    store = from_options("ks", SwiftStoreOptions.model_validate(options), description="", weight=0, chunk_size=MiB)
    with pytest.raises(StoreUnavailable, match="Swift refused our credentials"):
        asyncio.run(store.check())
    wrong_key = SwiftStoreOptions.model_validate(options | {"swift_store_key": "nope"})
    wrong = from_options("ks", wrong_key, description="", weight=0, chunk_size=MiB)
    with pytest.raises(StoreUnavailable, match="Keystone refused our credentials"):
        asyncio.run(wrong.check())
    no_endpoint = {k: v for k, v in options.items() if k != "swift_store_endpoint"}
    uncatalogued = from_options(
        "ks", SwiftStoreOptions.model_validate(no_endpoint), description="", weight=0, chunk_size=MiB
    )
    with pytest.raises(StoreUnavailable, match="object-store service not found"):
        asyncio.run(uncatalogued.check())


# -- options ----------------------------------------------------------------------------------------------
BASE = {
    "swift_store_auth_address": AUTH_URL,
    "swift_store_user": USER,
    "swift_store_key": KEY,
    "swift_store_auth_version": "1",
}


def build(options: dict[str, str]) -> SwiftStore:
    return from_options(
        "sw", SwiftStoreOptions.model_validate(options), description="Swift", weight=4, chunk_size=12345
    )


def test_options_defaults_are_glances() -> None:
    store = build(BASE)
    assert (store.id, store.type, store.description, store.weight, store.chunk_size) == (
        "sw",
        "swift",
        "Swift",
        4,
        12345,
    )
    assert store.container == "glance"
    assert store.create_container_on_put is False
    assert store.large_object_size == 5120 * MiB
    assert store.large_object_chunk_size == 200 * MiB
    assert store.multiple_containers_seed == 0
    assert store.auth == SwiftAuth(AUTH_URL, USER, KEY, "1")
    assert KEY not in repr(store.auth)
    keystone = build({k: v for k, v in BASE.items() if k != "swift_store_auth_version"})
    assert keystone.auth.auth_version == "2"  # Glance's default: Keystone
    assert keystone._session is not None


def test_options_are_read() -> None:
    store = build(
        BASE
        | {
            "swift_store_container": "images",
            "swift_store_create_container_on_put": "True",
            "swift_store_large_object_size": "100",
            "swift_store_large_object_chunk_size": "10",
            "swift_store_multiple_containers_seed": "3",
            "swift_store_endpoint": "http://swift.example:8080/v1/AUTH_x",
            "swift_store_auth_insecure": "yes",
            "swift_store_cacert": "/etc/ssl/ca.pem",
            "swift_store_region": "RegionTwo",
            "swift_store_endpoint_type": "internalURL",
        }
    )
    assert store.container == "images"
    assert store.create_container_on_put is True
    assert (store.large_object_size, store.large_object_chunk_size) == (100 * MiB, 10 * MiB)
    assert store.multiple_containers_seed == 3
    assert store.auth.endpoint == "http://swift.example:8080/v1/AUTH_x"
    assert store.auth.insecure is True
    assert store.auth.cacert == "/etc/ssl/ca.pem"
    assert (store.auth.region, store.auth.endpoint_type) == ("RegionTwo", "internalURL")


def test_keystone_domains() -> None:
    store = build(BASE | {"swift_store_auth_version": "3", "swift_store_user_domain_name": "Users"})
    assert (store.auth.user_domain_id, store.auth.user_domain_name) == (None, "Users")
    assert (store.auth.project_domain_id, store.auth.project_domain_name) == ("default", None)


def test_credentials_from_a_swift_config_file(tmp_path: Path) -> None:
    conf = tmp_path / "glance-swift.conf"
    conf.write_text(
        "[ref1]\nauth_address = http://a/v1.0\nuser = acc:usr\nkey = k1\nauth_version = 1\n\n"
        "[other]\nauth_address = http://b/v3\nuser = proj:usr\nkey = k2\nauth_version = 3\n"
        "user_domain_id = ud\nproject_domain_id = pd\n"
    )
    first = build({"swift_store_config_file": str(conf)})
    assert first.auth == SwiftAuth("http://a/v1.0", "acc:usr", "k1", "1")
    second = build({"swift_store_config_file": str(conf), "default_swift_reference": "other"})
    assert (second.auth.auth_address, second.auth.user, second.auth.key, second.auth.auth_version) == (
        "http://b/v3",
        "proj:usr",
        "k2",
        "3",
    )
    assert (second.auth.user_domain_id, second.auth.project_domain_id) == ("ud", "pd")
    with pytest.raises(ValueError, match="no \\[missing\\] section"):
        build({"swift_store_config_file": str(conf), "default_swift_reference": "missing"})
    with pytest.raises(ValueError, match="cannot read"):
        build({"swift_store_config_file": str(tmp_path / "absent.conf")})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"swift_store_key": ""}, "swift_store_key must be set"),
        ({"swift_store_user": "no-colon"}, "account:user"),
        ({"swift_store_auth_version": "4"}, "'1', '2' or '3'"),
        ({"swift_store_create_container_on_put": "maybe"}, "valid boolean"),
        ({"swift_store_large_object_size": "big"}, "valid integer"),
        ({"swift_store_large_object_chunk_size": "0"}, "greater than or equal to 1"),
        ({"swift_store_multiple_containers_seed": "33"}, "less than or equal to 32"),
        ({"swift_store_container": "a/b"}, "cannot contain"),
        ({"swift_store_multi_tenant": "true"}, "not supported"),
    ],
)
def test_bad_options_are_refused(options: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        build(BASE | options)
    assert next(iter(options)) in str(refused.value)


def test_the_options_store_works_against_the_server(admin: swiftclient.Connection) -> None:
    container = unique_container()
    store = build(BASE | {"swift_store_container": container, "swift_store_create_container_on_put": "true"})
    try:
        stored = asyncio.run(store.put("image-opt", blocks(b"from options")))
        assert read(store, stored.url) == b"from options"
        asyncio.run(store.delete(stored.url))
    finally:
        for name in (container, f"{container}_segments"):
            remove_container(admin, name)


def test_an_endpoint_override_is_the_storage_url(admin: swiftclient.Connection) -> None:
    storage = admin.get_auth()[0]
    with swift_test_store() as plain:
        store = SwiftStore(
            "sw",
            SwiftAuth(AUTH_URL, USER, KEY, "1", endpoint=storage + "/"),
            container=plain.container,
            create_container_on_put=True,
        )
        stored = asyncio.run(store.put("image-ep", blocks(b"abc")))
        assert stored.url == f"swift+{storage}/{plain.container}/image-ep"
        assert read(plain, stored.url) == b"abc"


def test_owns_its_locations_only(store: SwiftStore) -> None:
    container = store.container
    # before signing in the account is unknown: any storage URL ending in one of its containers is taken
    assert store.owns(f"swift+http://127.0.0.1:8080/v1/AUTH_glimpse/{container}/image")
    assert store.owns(f"swift+https://swift.example/v1/AUTH_x/{container}/image")
    stored = asyncio.run(store.put("image-own", blocks(b"abc")))
    assert store.owns(stored.url)
    assert store.owns(f"swift+http://127.0.0.1:8080/v1/AUTH_glimpse/{container}_segments/image/0123/")
    assert store.owns(f"swift+config://ref1/{container}/image")
    assert store.owns(f"swift+http://glimpse%3Aglimpse:secret@127.0.0.1:8080/auth/v1.0/{container}/image")
    for url in (
        f"swift+http://127.0.0.1:8080/v1/AUTH_other/{container}/image",  # known now: another account
        f"swift+https://swift.example/v1/AUTH_x/{container}/image",
        stored.url.replace(container, "another-container"),
        f"swift+http://127.0.0.1:8080/v1/AUTH_glimpse/{container}/",
        f"swift+http://127.0.0.1:8080/v1/AUTH_glimpse/{container}",
        f"file:///{container}/image",
        f"s3://bucket/{container}/image",
        "not a url",
    ):
        assert not store.owns(url), url


def test_a_large_object_missing_a_segment_reads_as_an_error(store: SwiftStore, admin: swiftclient.Connection) -> None:
    stored = asyncio.run(store.put("image-hole", blocks(DATA)))
    segments = f"{store.container}_segments"
    admin.delete_object(segments, segments_of(admin, store)[3])
    with pytest.raises(StoreError):
        read(store, stored.url)


def test_a_container_deleted_behind_the_stores_back_is_created_again(
    store: SwiftStore, admin: swiftclient.Connection
) -> None:
    asyncio.run(store.put("image-1", blocks(DATA)))
    for name in (store.container, f"{store.container}_segments"):
        remove_container(admin, name)
    stored = asyncio.run(store.put("image-2", blocks(DATA)))
    assert read(store, stored.url) == DATA
