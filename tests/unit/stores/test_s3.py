"""glimpse.stores.s3 against the real S3 API of scripts/swift-up (Swift's s3api): no mock anywhere.

What the contract suite does not reach: multipart uploads (with and without a size hint), bounded memory,
failures and cancellation in the middle of an upload, the checksums on the wire (and the service refusing
damaged data), ranged reads across parts, and the translation of the service's errors.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from glimpse.errors import NotFound, StorageFull, StoreError, StoreUnavailable
from glimpse.settings import S3StoreOptions
from glimpse.stores.s3 import MB, S3Store, from_options, resolve_options
from tests.contract.backends.s3 import (
    ACCESS_KEY,
    ENDPOINT,
    SECRET_KEY,
    admin_client,
    new_s3_store,
    object_keys,
    pending_uploads,
    remove_bucket,
    s3_options,
)

PART = 5 * MB  # the stores below use 5 MB parts and switch to multipart from 6 MB
BIG = os.urandom(12 * MB + 12_345)  # three parts


class Broken(Exception):
    pass


async def blocks(data: bytes, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
        await asyncio.sleep(0)


async def read(store: S3Store, url: str, start: int = 0, length: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.open(url, start, length)])


class Wire:
    """What the store's client sends, seen from botocore's events: operations and their headers."""

    def __init__(self, store: S3Store) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        store.client.meta.events.register("before-send.s3", self._sent)

    def _sent(self, request: Any, **kwargs: Any) -> None:
        operation = kwargs["event_name"].rsplit(".", 1)[-1]
        headers = {
            name.lower(): value.decode() if isinstance(value, bytes) else value
            for name, value in request.headers.items()
        }
        with self.lock:
            self.calls.append((operation, headers))

    def count(self, operation: str) -> int:
        return sum(1 for name, _ in self.calls if name == operation)

    def headers(self, operation: str) -> list[dict[str, str]]:
        return [headers for name, headers in self.calls if name == operation]


@pytest.fixture
def store() -> Iterator[S3Store]:
    with new_s3_store() as made:
        yield made


def leftovers(store: S3Store) -> tuple[list[str], list[dict[str, Any]]]:
    """The objects and unfinished uploads in the store's bucket, as the service sees them."""
    client = admin_client()
    try:
        client.head_bucket(Bucket=store.bucket)
    except client.exceptions.ClientError:
        return [], []
    return object_keys(client, store.bucket), pending_uploads(client, store.bucket)


def etag(store: S3Store, key: str) -> str:
    return str(admin_client().head_object(Bucket=store.bucket, Key=key)["ETag"]).strip('"')


# -- options and locations ---------------------------------------------------------------------------------
def test_options_take_glance_names_and_defaults() -> None:
    parsed = resolve_options(
        S3StoreOptions.model_validate(
            {
                "s3_store_host": "s3.example.org:8443",
                "s3_store_access_key": "a",
                "s3_store_secret_key": "s",
                "s3_store_bucket": "b",
            }
        )
    )
    assert parsed.endpoint == "http://s3.example.org:8443"
    assert (parsed.large_object_size, parsed.part_size, parsed.thread_pools) == (100 * MB, 10 * MB, 10)
    assert (parsed.addressing_style, parsed.region, parsed.create_bucket_on_put, parsed.cacert) == (
        "auto",
        "us-east-1",
        False,
        None,
    )
    assert "secret_key=" not in repr(parsed)  # the secret stays out of logs
    legacy = resolve_options(
        S3StoreOptions.model_validate({**s3_options("b"), "s3_store_bucket_url_format": "subdomain"})
    )
    assert legacy.addressing_style == "virtual"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("s3_store_large_object_chunk_size", "4", "greater than or equal to 5"),
        ("s3_store_thread_pools", "0", "greater than or equal to 1"),
        ("s3_store_large_object_size", "big", "valid integer"),
        ("s3_store_bucket_url_format", "dns", "'auto', 'path' or 'virtual'"),
        ("s3_store_create_bucket_on_put", "maybe", "valid boolean"),
        ("s3_store_host", "ftp://x", "host"),
        ("s3_store_bucket", "", "at least 1 character"),
        ("s3_store_secret_key", " ", "s3_store_secret_key must be set"),
    ],
)
def test_bad_options_are_refused_by_name(name: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        S3StoreOptions.model_validate({**s3_options("b"), name: value})
    assert name in str(refused.value)


def test_locations_carry_no_credentials_and_belong_to_one_bucket() -> None:
    store = from_options(
        "s3", S3StoreOptions.model_validate(s3_options("bucket-a")), description="d", weight=2, chunk_size=1024
    )
    url = store.url_for("image 1")
    assert url == f"s3+http://{ENDPOINT.split('://')[1]}/bucket-a/image%201"
    assert ACCESS_KEY not in url
    assert SECRET_KEY not in url
    assert (store.id, store.type, store.description, store.weight) == ("s3", "s3", "d", 2)
    details = store.details()
    assert set(details) == {"s3_store_large_object_size", "s3_store_large_object_chunk_size", "s3_store_thread_pools"}
    assert details["s3_store_large_object_chunk_size"] == PART
    assert SECRET_KEY not in repr(details)
    assert ACCESS_KEY not in repr(details)
    host = ENDPOINT.split("://")[1]
    # what Glance wrote (credentials in the URL, a secret with a '/') is still found
    assert store._locate(f"s3://key:se/cret@{host}/bucket-a/abc") == ("abc", None)
    assert store.owns(url)
    assert store.owns(f"s3://key:se/cret@{host}/bucket-a/abc")
    assert not store.owns(f"{url}?uploadId=abc")  # an unfinished write is no data to serve
    for foreign in (
        f"s3+http://{host}/bucket-b/abc",
        "s3+http://elsewhere:8080/bucket-a/abc",
        f"s3+http://{host}/bucket-a/",
        "file:///tmp/abc",
        "not a url",
    ):
        assert not store.owns(foreign)
        with pytest.raises(NotFound):
            asyncio.run(store.stat(foreign))


# -- the three ways of writing -----------------------------------------------------------------------------
def test_small_image_with_a_size_is_one_streamed_put_with_a_crc32_trailer(store: S3Store) -> None:
    wire = Wire(store)
    data = os.urandom(3 * MB + 7)
    stored = asyncio.run(store.put("small", blocks(data), size_hint=len(data)))
    assert (stored.url, stored.size) == (store.url_for("small"), len(data))
    assert wire.count("UploadPart") == 0
    [headers] = wire.headers("PutObject")
    assert headers["content-encoding"] == "aws-chunked"
    assert headers["x-amz-trailer"] == "x-amz-checksum-crc32"
    assert headers["x-amz-decoded-content-length"] == str(len(data))
    assert headers["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert etag(store, "small") == hashlib.md5(data).hexdigest()
    assert asyncio.run(read(store, stored.url)) == data


def test_small_image_without_a_size_is_buffered_and_sent_with_its_md5(store: S3Store) -> None:
    wire = Wire(store)
    data = os.urandom(2 * MB + 1)
    stored = asyncio.run(store.put("buffered", blocks(data)))
    [headers] = wire.headers("PutObject")
    assert headers["content-md5"] == base64.b64encode(hashlib.md5(data).digest()).decode()
    assert "x-amz-checksum-crc32" not in headers  # botocore's default CRC32 is deliberately off
    assert asyncio.run(read(store, stored.url)) == data


def test_large_image_with_a_size_is_a_multipart_upload_with_checked_parts(store: S3Store) -> None:
    wire = Wire(store)
    stored = asyncio.run(store.put("large", blocks(BIG), size_hint=len(BIG)))
    assert stored.size == len(BIG)
    assert wire.count("PutObject") == 0
    parts = [BIG[i : i + PART] for i in range(0, len(BIG), PART)]
    sent = sorted(headers["content-md5"] for headers in wire.headers("UploadPart"))
    assert sent == sorted(base64.b64encode(hashlib.md5(part).digest()).decode() for part in parts)
    assert etag(store, "large").endswith(f"-{len(parts)}")
    assert asyncio.run(read(store, stored.url)) == BIG
    assert leftovers(store) == (["large"], [])


def test_large_image_without_a_size_switches_to_multipart(store: S3Store) -> None:
    wire = Wire(store)
    stored = asyncio.run(store.put("unsized", blocks(BIG, 100_000)))
    assert stored.size == len(BIG)
    assert (wire.count("PutObject"), wire.count("UploadPart")) == (0, 3)
    assert etag(store, "unsized").endswith("-3")
    assert asyncio.run(read(store, stored.url)) == BIG


def test_an_image_of_exactly_one_part_and_an_empty_one() -> None:
    with new_s3_store(s3_store_large_object_size="5") as store:
        exact = os.urandom(PART)
        assert asyncio.run(store.put("exact", blocks(exact))).size == PART
        assert asyncio.run(read(store, store.url_for("exact"))) == exact
        assert asyncio.run(store.put("empty", blocks(b""), size_hint=0)).size == 0
        assert asyncio.run(store.stat(store.url_for("empty"))) == 0
        assert asyncio.run(store.put("empty2", blocks(b""))).size == 0


def test_memory_stays_bounded_and_parts_go_in_parallel() -> None:
    """The source may not run ahead of the service by more than the parts in flight plus the one filling."""
    with new_s3_store(s3_store_thread_pools="2") as store:
        uploaded = 0
        in_flight = peak_in_flight = 0
        lock = threading.Lock()
        sending = threading.local()  # a part is sent and answered in one thread

        def started(request: Any, **_: Any) -> None:
            nonlocal in_flight, peak_in_flight
            sending.size = int(request.headers["Content-Length"])
            with lock:
                in_flight += 1
                peak_in_flight = max(peak_in_flight, in_flight)
            time.sleep(0.2)  # a slow service: an unbounded writer would read the whole source meanwhile

        def done(**_: Any) -> None:
            nonlocal uploaded, in_flight
            with lock:
                in_flight -= 1
                uploaded += sending.size

        store.client.meta.events.register("before-send.s3.UploadPart", started)
        store.client.meta.events.register("after-call.s3.UploadPart", done)
        produced = ahead = 0
        data = os.urandom(41 * MB)

        async def source() -> AsyncIterator[bytes]:
            nonlocal produced, ahead
            for start in range(0, len(data), 256 * 1024):
                block = data[start : start + 256 * 1024]
                produced += len(block)
                with lock:
                    ahead = max(ahead, produced - uploaded)
                yield block

        stored = asyncio.run(store.put("bounded", source(), size_hint=len(data)))
        assert stored.size == len(data)
        # 2 parts in flight, 1 filling, and the block just read: never the whole 41 MB
        assert ahead <= 3 * PART + 256 * 1024, ahead
        assert peak_in_flight == 2
        assert asyncio.run(read(store, stored.url)) == data


def test_a_large_hint_grows_the_parts_to_stay_within_the_part_limit(store: S3Store) -> None:
    assert store._part_size(1, 10 * 1024 * MB) == 11 * MB  # 10 GiB in at most 1000 parts
    assert store._part_size(1, 20 * MB) == PART
    assert store._part_size(100, None) == PART
    assert store._part_size(101, None) == 2 * PART


# -- failures leave nothing behind --------------------------------------------------------------------------
def test_a_source_failing_mid_multipart_leaves_no_object_and_no_upload(store: S3Store) -> None:
    async def failing() -> AsyncIterator[bytes]:
        async for block in blocks(BIG[: 11 * MB]):
            yield block
        raise Broken

    wire = Wire(store)
    for hint in (len(BIG), None):
        with pytest.raises(Broken):
            asyncio.run(store.put("broken", failing(), size_hint=hint))
        assert leftovers(store) == ([], [])
    assert wire.count("UploadPart") >= 2
    assert wire.count("AbortMultipartUpload") == 2


def test_a_part_refused_by_the_service_fails_the_put_cleanly(store: S3Store) -> None:
    """A part damaged on its way: the service checks its Content-MD5, the upload is aborted."""

    def damage(request: Any, **_: Any) -> None:
        if "partNumber=2" in request.url:
            body = bytearray(request.body.getvalue())
            body[1000] ^= 0xFF
            request.body = io.BytesIO(bytes(body))

    store.client.meta.events.register("before-send.s3.UploadPart", damage)
    with pytest.raises(StoreError, match=r"damaged on its way.*BadDigest"):
        asyncio.run(store.put("damaged", blocks(BIG), size_hint=len(BIG)))
    assert leftovers(store) == ([], [])


def test_a_streamed_put_damaged_on_its_way_is_refused_by_its_trailer(store: S3Store) -> None:
    def damage(request: Any, **_: Any) -> None:
        body = request.body
        original = body.read
        done = False

        def read(size: int | None = None) -> bytes:
            nonlocal done
            out: bytes = original(size)
            if not done and len(out) > 1000:
                done = True
                out = out[:500] + bytes([out[500] ^ 0xFF]) + out[501:]
            return out

        body.read = read

    store.client.meta.events.register("before-send.s3.PutObject", damage)
    data = os.urandom(2 * MB)
    with pytest.raises(StoreError, match="CRC32"):
        asyncio.run(store.put("damaged", blocks(data), size_hint=len(data)))
    assert leftovers(store) == ([], [])


@pytest.mark.parametrize(("sent", "announced"), [(MB, MB + 1), (MB + 1, MB)])
def test_a_streamed_source_of_the_wrong_size_stores_nothing(store: S3Store, sent: int, announced: int) -> None:
    with pytest.raises(StoreError, match="announced"):
        asyncio.run(store.put("wrong", blocks(os.urandom(sent)), size_hint=announced))
    assert leftovers(store)[0] == []


def test_a_streamed_source_failing_stores_nothing(store: S3Store) -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield b"x" * MB
        raise Broken

    with pytest.raises(Broken):
        asyncio.run(store.put("broken", failing(), size_hint=3 * MB))
    assert leftovers(store) == ([], [])


@pytest.mark.parametrize("hint", [len(BIG), 3 * MB])
def test_cancelling_a_put_leaves_nothing(store: S3Store, hint: int) -> None:
    gate = asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        async for block in blocks(BIG[: 11 * MB] if hint == len(BIG) else BIG[:MB]):
            yield block
        await gate.wait()
        yield b"never"

    async def scenario() -> None:
        task = asyncio.create_task(store.put("cancelled", stalls(), size_hint=hint))
        await asyncio.sleep(1.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert leftovers(store) == ([], [])


def test_an_unfinished_upload_is_listed_as_partial_and_can_be_removed(store: S3Store) -> None:
    async def scenario() -> None:
        release = asyncio.Event()

        async def slow() -> AsyncIterator[bytes]:
            async for block in blocks(BIG[: 11 * MB]):
                yield block
            await release.wait()
            yield b"y"

        task = asyncio.create_task(store.put("slow", slow(), size_hint=len(BIG)))
        for _ in range(100):  # until both full parts are in
            listed = [obj async for obj in store.list_objects()]
            if listed and listed[0].size == 2 * PART:
                break
            await asyncio.sleep(0.1)
        [partial] = listed
        assert (partial.key, partial.partial, partial.size) == ("slow", True, 2 * PART)
        assert partial.url.startswith(store.url_for("slow") + "?uploadId=")
        assert await store.stat(partial.url) == 2 * PART
        with pytest.raises(NotFound):
            await read(store, partial.url)
        await store.delete(partial.url)  # what fsck does with an abandoned upload
        assert [obj async for obj in store.list_objects()] == []
        assert await store.stat(partial.url) is None
        await store.delete(partial.url)  # gone already: fine
        release.set()
        with pytest.raises(StoreError, match="NoSuchUpload"):
            await task

    asyncio.run(scenario())
    assert leftovers(store) == ([], [])


# -- reading -----------------------------------------------------------------------------------------------
def test_ranged_reads_across_parts_come_in_chunks(store: S3Store) -> None:
    stored = asyncio.run(store.put("ranged", blocks(BIG), size_hint=len(BIG)))
    wire = Wire(store)
    for start, length in [(0, 10), (PART - 5, 10), (2 * PART - 1, PART + 2), (len(BIG) - 3, None), (7, None)]:
        expected = BIG[start:] if length is None else BIG[start : start + length]
        assert asyncio.run(read(store, stored.url, start, length)) == expected
    ranges = [headers.get("range") for headers in wire.headers("GetObject")]
    assert ranges == [
        "bytes=0-9",
        f"bytes={PART - 5}-{PART + 4}",
        f"bytes={2 * PART - 1}-{3 * PART}",
        f"bytes={len(BIG) - 3}-",
        "bytes=7-",
    ]
    chunks = asyncio.run(_chunks(store, stored.url))
    assert {len(chunk) for chunk in chunks[:-1]} == {store.chunk_size}
    assert asyncio.run(read(store, stored.url, len(BIG))) == b""  # at the end: nothing
    assert asyncio.run(read(store, stored.url, 5, 0)) == b""


async def _chunks(store: S3Store, url: str) -> list[bytes]:
    return [chunk async for chunk in store.open(url, 0, 3 * 64 * 1024 + 5)]


def test_missing_objects(store: S3Store) -> None:
    url = store.url_for("nothing")
    # no bucket yet: the store is misconfigured (or its bucket was removed), not just missing an object
    for attempt in (read(store, url), store.stat(url)):
        with pytest.raises(StoreError, match="does not exist"):
            asyncio.run(attempt)
    asyncio.run(store.delete(url))
    asyncio.run(store.check())  # creates the bucket
    with pytest.raises(NotFound):
        asyncio.run(read(store, url))
    assert asyncio.run(store.stat(url)) is None
    asyncio.run(store.delete(url))


# -- errors are the store's, never botocore's ---------------------------------------------------------------
def _glimpse_error(exc: BaseException) -> None:
    assert type(exc).__module__ == "glimpse.errors", type(exc)


def test_a_wrong_secret_is_a_clear_store_error() -> None:
    with new_s3_store(s3_store_secret_key="not-the-secret") as store:
        url = store.url_for("x")
        for attempt in (store.check(), store.put("x", blocks(b"abc")), store.stat(url), read(store, url)):
            with pytest.raises(StoreError, match=r"rejected its credentials.*SignatureDoesNotMatch") as raised:
                asyncio.run(attempt)
            _glimpse_error(raised.value)
            assert not isinstance(raised.value, StoreUnavailable)
            assert "not-the-secret" not in str(raised.value)


def test_an_unknown_access_key_is_a_clear_store_error() -> None:
    with new_s3_store(s3_store_access_key="nobody:nobody") as store:
        with pytest.raises(StoreError, match="rejected its credentials") as raised:
            asyncio.run(store.check())
        _glimpse_error(raised.value)


def test_an_unreachable_service_is_unavailable() -> None:
    store = from_options(
        "s3",
        S3StoreOptions.model_validate({**s3_options("b"), "s3_store_host": "http://127.0.0.1:9"}),
        description="",
        weight=0,
        chunk_size=1024,
    )
    for attempt in (store.check(), store.stat(store.url_for("x")), store.put("x", blocks(b"abc"))):
        with pytest.raises(StoreUnavailable, match="cannot be reached") as raised:
            asyncio.run(attempt)
        _glimpse_error(raised.value)


def test_a_bucket_over_its_quota_is_storage_full(store: S3Store) -> None:
    """Swift's container quota (set through Swift's own API on the bucket's container) answers 413."""
    asyncio.run(store.check())
    auth = httpx.get(
        f"{ENDPOINT}/auth/v1.0", headers={"X-Auth-User": ACCESS_KEY, "X-Auth-Key": SECRET_KEY}
    ).raise_for_status()
    httpx.post(
        f"{auth.headers['X-Storage-Url']}/{store.bucket}",
        headers={"X-Auth-Token": auth.headers["X-Auth-Token"], "X-Container-Meta-Quota-Bytes": "1000"},
    ).raise_for_status()
    for hint in (5000, None):
        with pytest.raises(StorageFull, match="quota") as raised:
            asyncio.run(store.put("full", blocks(os.urandom(5000)), size_hint=hint))
        _glimpse_error(raised.value)
    assert leftovers(store) == ([], [])


def test_a_missing_bucket_is_created_only_when_configured() -> None:
    with new_s3_store(s3_store_create_bucket_on_put="false") as store:
        with pytest.raises(StoreError, match="does not exist"):
            asyncio.run(store.check())
        with pytest.raises(StoreError, match="does not exist"):
            asyncio.run(store.put("x", blocks(b"abc")))
        with pytest.raises(StoreError, match="does not exist"):
            asyncio.run(_listed(store))
    with new_s3_store() as store:
        assert asyncio.run(_listed(store)) == []  # the first write creates it
        asyncio.run(store.check())
        admin_client().head_bucket(Bucket=store.bucket)


def test_a_bucket_removed_behind_the_store_is_created_again(store: S3Store) -> None:
    asyncio.run(store.put("first", blocks(b"abc")))
    remove_bucket(admin_client(), store.bucket)
    with pytest.raises(StoreError, match="does not exist"):
        asyncio.run(store.put("second", blocks(b"abc")))
    stored = asyncio.run(store.put("third", blocks(b"abc")))  # the failure made it look again
    assert asyncio.run(read(store, stored.url)) == b"abc"


async def _listed(store: S3Store) -> list[Any]:
    return [obj async for obj in store.list_objects()]
