"""An S3 bucket (AWS S3, Ceph RGW, Swift's s3api, MinIO, ...) through boto3.

One bucket per store; an image is the object named by its key. Locations are
``s3://<host[:port]>/<bucket>/<key>`` (``s3+http://`` when the endpoint is plain HTTP) and never carry
credentials. The unfinished multipart uploads of a key are listed as partial objects with their own
location (the upload id in the query), so ``glimpse fsck`` can tell them apart and remove them.

Writing:

* size known and below ``s3_store_large_object_size``: one PUT streamed straight from the source (no
  buffering), sent ``aws-chunked`` with a CRC32 trailer that the service checks before storing anything;
* size known and at least that large: a multipart upload;
* size unknown: up to ``s3_store_large_object_size`` is buffered; a source that ends before is sent as one
  PUT with its Content-MD5, a longer one becomes a multipart upload.

Multipart uploads send parts of ``s3_store_large_object_chunk_size`` from ``s3_store_thread_pools`` threads,
each with its Content-MD5 (checked by the service). Memory stays bounded: the parts in flight never hold
more than ``thread_pools`` parts' worth of bytes, plus the part being filled (and, size unknown, the first
``s3_store_large_object_size`` bytes buffered before deciding). Any failure (the source's, the service's, a
cancellation) aborts the upload; nothing stays behind.

Checksums are chosen here, not left to botocore's defaults: ``request_checksum_calculation`` is
``when_required`` (its default computes a CRC32 *header* over plain HTTP, which means reading a streamed
body twice before sending it), and each request says what it carries: Content-MD5 on parts and buffered
PUTs, the CRC32 trailer on streamed PUTs; the service rejects data that does not match. Payloads are not
SHA-256 signed (``payload_signing_enabled`` off): the signed Content-MD5 header (or the trailer) already
guards the data, and SHA-256 over every byte on both ends costs throughput for no further protection
against damage. ``response_checksum_validation`` is ``when_required``: reads are ranged and streamed,
whole-object checksums cannot validate a range, and Swift's s3api returns none.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextvars
import functools
import hashlib
import logging
import math
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar
from urllib.parse import parse_qs, quote, unquote, urlsplit

import anyio.to_thread
import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, IncompleteReadError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError

from glimpse.errors import NotFound, StorageFull, StorageWriteDenied, StoreError, StoreUnavailable
from glimpse.settings import S3StoreOptions
from glimpse.stores.base import Block, ListedObject, StoredObject

log = logging.getLogger(__name__)

T = TypeVar("T")

MB = 1024 * 1024
# Swift's s3api accepts 1000 parts by default (AWS: 10000): planning for the smaller works with both
MAX_PARTS = 1000
# without a size hint the part size grows by one base size every GROW_EVERY parts, so an upload of unknown
# size can reach 5500 base parts (55 GB with 10 MB parts) within MAX_PARTS
GROW_EVERY = 100
STREAM_READ = 64 * 1024  # the most a streamed PUT hands botocore per read (it copies what it buffers)

_CREDENTIAL_ERRORS = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AuthorizationHeaderMalformed", "InvalidToken", "ExpiredToken"}
)
_DENIED = frozenset({"AccessDenied", "AllAccessDisabled", "AccountProblem", "InvalidObjectState"})
_FULL = frozenset({"QuotaExceeded", "EntityTooLarge", "InsufficientStorage", "StorageFull", "NotEnoughSpace"})
_CORRUPTED = frozenset({"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "InvalidChunkSizeError"})
_TRANSIENT = frozenset({"SlowDown", "ServiceUnavailable", "RequestTimeout", "InternalError", "Throttling"})

_background: set[asyncio.Task[None]] = set()


# -- configuration -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class S3Options:
    """The store's options as the driver uses them (from ``S3StoreOptions``, Glance's ``s3_store_*``)."""

    endpoint: str
    access_key: str
    secret_key: str = field(repr=False)
    bucket: str
    create_bucket_on_put: bool = False
    addressing_style: str = "auto"  # auto / path / virtual
    large_object_size: int = 100 * MB
    part_size: int = 10 * MB
    thread_pools: int = 10
    region: str = "us-east-1"
    cacert: str | None = None


def resolve_options(options: S3StoreOptions) -> S3Options:
    """The driver's view of a store section (validated by ``S3StoreOptions``): sizes in bytes, the secret
    unwrapped."""
    return S3Options(
        endpoint=options.s3_store_host,
        access_key=options.s3_store_access_key,
        secret_key=options.s3_store_secret_key.get_secret_value(),
        bucket=options.s3_store_bucket,
        create_bucket_on_put=options.s3_store_create_bucket_on_put,
        addressing_style=options.s3_store_bucket_url_format,
        large_object_size=options.s3_store_large_object_size * MB,
        part_size=options.s3_store_large_object_chunk_size * MB,
        thread_pools=options.s3_store_thread_pools,
        region=options.s3_store_region_name or "us-east-1",
        cacert=options.s3_store_cacert or None,
    )


def from_options(
    store_id: str, options: S3StoreOptions, *, description: str, weight: int, chunk_size: int
) -> S3Store:
    return S3Store(store_id, resolve_options(options), description=description, weight=weight, chunk_size=chunk_size)


# -- errors ------------------------------------------------------------------------------------------------
def _failure(store_id: str, bucket: str, exc: Exception, what: str, *, writing: bool = False) -> StoreError:
    """This store's error for a failed S3 call (nothing of botocore's crosses the driver's edge)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        detail = f"{code or status}: {error.get('Message') or 'no message'}"
        if code in _CREDENTIAL_ERRORS:
            return StoreError(
                f"Store {store_id} {what}: the S3 service rejected its credentials ({detail}); "
                f"check s3_store_access_key and s3_store_secret_key"
            )
        if code == "NoSuchBucket":
            return StoreError(f"Store {store_id} {what}: its bucket {bucket} does not exist")
        if code in _FULL or status == 507:
            return StorageFull(f"Image storage media is full: store {store_id} {what}: {detail}")
        if code in _DENIED or status == 403:
            if writing:
                return StorageWriteDenied(f"Store {store_id} cannot write: {detail}")
            return StoreError(f"Store {store_id} {what}: access denied ({detail})")
        if code in _CORRUPTED:
            return StoreError(f"Store {store_id} {what}: the data was damaged on its way ({detail})")
        if code in _TRANSIENT or status in (500, 502, 503, 504):
            return StoreUnavailable(f"Store {store_id} {what}: the S3 service is unavailable ({detail})")
        return StoreError(f"Store {store_id} {what}: {detail}")
    if isinstance(exc, (BotoConnectionError, HTTPClientError, IncompleteReadError)):  # refused, reset, timed out
        return StoreUnavailable(f"Store {store_id} {what}: the S3 service cannot be reached ({exc})")
    if isinstance(exc, NoCredentialsError):
        return StoreError(f"Store {store_id} {what}: no S3 credentials configured")
    return StoreError(f"Store {store_id} {what}: {type(exc).__name__}: {exc}")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")


# -- threads -----------------------------------------------------------------------------------------------
def _in_own_thread(name: str, call: Callable[[], T]) -> concurrent.futures.Future[T]:
    """Run ``call`` in a new thread of its own (a streamed PUT holds one for as long as its client sends),
    in a copy of the caller's context."""
    future: concurrent.futures.Future[T] = concurrent.futures.Future()
    context = contextvars.copy_context()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(context.run(call))
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


async def _finish_anyway(cleanup: Coroutine[Any, Any, None]) -> None:
    """Run a cleanup to its end even when the caller is cancelled meanwhile (it then goes on by itself)."""
    task = asyncio.ensure_future(cleanup)
    _background.add(task)
    task.add_done_callback(_background.discard)
    await asyncio.shield(task)


async def _settled(futures: list[concurrent.futures.Future[Any]]) -> None:
    """Wait until each call has ended, whatever its outcome (a running thread cannot be stopped)."""
    if futures:
        await asyncio.gather(*(asyncio.wrap_future(f) for f in futures), return_exceptions=True)


# -- the streamed PUT's body --------------------------------------------------------------------------------
class _SourceFailed(Exception):
    """Raised into botocore's sending thread to abandon the request; the real cause is ``_SourceBody.failure``."""


class _SourceBody:
    """A file-like view of the async source for the sending thread: ``read`` pulls blocks from the event loop.

    Exactly ``size`` bytes are delivered; a source that ends early or goes on longer fails the read (and so
    the request, before its last chunk, so the service stores nothing).
    """

    def __init__(self, source: AsyncIterator[Block], size: int, loop: asyncio.AbstractEventLoop) -> None:
        self._source = source
        self._loop = loop
        self.size = size
        self.position = 0
        self.failure: BaseException | None = None
        self._view = memoryview(b"")
        self._pulling: concurrent.futures.Future[Block | None] | None = None
        self._stopped = False
        self._lock = threading.Lock()

    def __len__(self) -> int:  # botocore's way to learn the length without seeking
        return self.size

    def read(self, amount: int | None = -1) -> bytes:
        if self.failure is not None:
            raise _SourceFailed("the source failed")
        while not self._view:
            block = self._pull()
            if block is None:
                if self.position < self.size:
                    self._fail(StoreError(f"Image data ended after {self.position} of the {self.size} bytes announced"))
                return b""
            self._view = memoryview(block).cast("B")
            if self.position + len(self._view) > self.size:
                self._fail(StoreError(f"Image data is longer than the {self.size} bytes announced"))
        limit = STREAM_READ if amount is None or amount < 0 else min(amount, STREAM_READ)
        chunk = bytes(self._view[:limit])
        self._view = self._view[limit:]
        self.position += len(chunk)
        return chunk

    def _pull(self) -> Block | None:
        with self._lock:
            if self._stopped:
                self._fail(StoreError("the upload was abandoned"))
            self._pulling = asyncio.run_coroutine_threadsafe(self._next(), self._loop)
        try:
            return self._pulling.result()
        except BaseException as exc:
            self._fail(exc)
        finally:
            self._pulling = None

    async def _next(self) -> Block | None:
        return await anext(self._source, None)

    def _fail(self, exc: BaseException) -> NoReturn:
        if self.failure is None:
            self.failure = exc
        raise _SourceFailed("the source failed") from exc

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        """Only a rewind before anything was sent (botocore retries a request that failed to connect)."""
        if (offset, whence) != (0, 0) or self.position:
            raise OSError("a streamed upload cannot be rewound")
        return 0

    def stop(self) -> None:
        """Make the sending thread give up: its pending (or next) pull from the source fails."""
        with self._lock:
            self._stopped = True
            if self._pulling is not None:
                self._pulling.cancel()


def _send_streamed_with_trailer(params: dict[str, Any], **_: Any) -> None:
    """botocore sends a CRC32 *trailer* (which streams) only over TLS, else a header (which reads the body
    twice); a streamed PUT asks for the trailer over plain HTTP too (the service checks it either way)."""
    if isinstance(params.get("body"), _SourceBody):
        algorithm = params.get("context", {}).get("checksum", {}).get("request_algorithm")
        if isinstance(algorithm, dict) and algorithm.get("in") == "header":
            algorithm["in"] = "trailer"


# -- one multipart upload -----------------------------------------------------------------------------------
class _Multipart:
    """The parts of one upload: at most ``budget`` bytes in flight in ``threads`` threads."""

    def __init__(self, store: S3Store, key: str, upload_id: str) -> None:
        self.store = store
        self.key = key
        self.upload_id = upload_id
        self.budget = store.options.thread_pools * store.options.part_size
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=store.options.thread_pools, thread_name_prefix=f"s3-{store.id}-part"
        )
        self._futures: list[concurrent.futures.Future[str]] = []
        self._completing = False
        self._in_flight: dict[concurrent.futures.Future[str], int] = {}

    @property
    def count(self) -> int:
        return len(self._futures)

    async def send(self, data: bytes) -> None:
        """Queue the next part, first waiting until the bytes in flight leave room for it."""
        self._reap()
        while self._in_flight and sum(self._in_flight.values()) + len(data) > self.budget:
            await asyncio.wait([asyncio.wrap_future(f) for f in self._in_flight], return_when=asyncio.FIRST_COMPLETED)
            self._reap()
        number = len(self._futures) + 1
        future = self._executor.submit(self.store._upload_part, self.key, self.upload_id, number, data)
        self._futures.append(future)
        self._in_flight[future] = len(data)

    def _reap(self) -> None:
        """Forget finished parts; the first failure surfaces here (and stops the upload)."""
        for future in [f for f in self._in_flight if f.done()]:
            del self._in_flight[future]
            future.result()

    async def complete(self) -> None:
        etags = [await asyncio.wrap_future(future) for future in self._futures]
        self._executor.shutdown(wait=False)
        parts = [{"ETag": etag, "PartNumber": number} for number, etag in enumerate(etags, start=1)]
        self._completing = True
        await self.store._thread(
            self.store._complete_upload, self.key, self.upload_id, parts, what="cannot complete an upload"
        )

    async def abort(self) -> None:
        """Wait for the parts still being sent, then abort the upload (the service drops its parts). A
        completion whose answer was lost may have made the object: it goes too."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        await _settled(list(self._futures))
        try:
            await anyio.to_thread.run_sync(self.store._abort_upload, self.key, self.upload_id)
            if self._completing:
                await anyio.to_thread.run_sync(self.store._remove_object, self.key)
        except Exception:
            log.warning(
                "store %s: could not abort the multipart upload %s of %s; `glimpse fsck --repair` removes it",
                self.store.id,
                self.upload_id,
                self.key,
                exc_info=True,
            )


# -- the store ---------------------------------------------------------------------------------------------
class S3Store:
    type = "s3"

    def __init__(
        self, store_id: str, options: S3Options, *, description: str = "", weight: int = 0, chunk_size: int = 1 << 20
    ) -> None:
        self.id = store_id
        self.options = options
        self.bucket = options.bucket
        self.description = description
        self.weight = weight
        self.chunk_size = chunk_size
        endpoint = urlsplit(options.endpoint)
        self._scheme = "s3" if endpoint.scheme == "https" else "s3+http"
        self._netloc = (endpoint.netloc.rpartition("@")[2]).lower()
        self._bucket_exists = False
        # one bucket check (and creation) at a time: see _ensure_bucket
        self._bucket_lock = threading.Lock()
        config = Config(
            region_name=options.region,
            signature_version="s3v4",
            s3={"addressing_style": options.addressing_style, "payload_signing_enabled": False},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=10,
            read_timeout=60,
            tcp_keepalive=True,
            # parts of several uploads at once, reads and the rest: enough that connections get reused
            max_pool_connections=max(32, 4 * options.thread_pools),
        )
        session = boto3.session.Session()
        self.client: Any = session.client(
            "s3",
            endpoint_url=options.endpoint,
            aws_access_key_id=options.access_key,
            aws_secret_access_key=options.secret_key,
            region_name=options.region,
            verify=options.cacert if options.cacert else None,
            config=config,
        )
        self.client.meta.events.register("before-call.s3.PutObject", _send_streamed_with_trailer)

    # -- locations -------------------------------------------------------------------------------------
    def url_for(self, key: str) -> str:
        return f"{self._scheme}://{self._netloc}/{quote(self.bucket, safe='')}/{quote(key, safe='')}"

    def _partial_url(self, key: str, upload_id: str) -> str:
        return f"{self.url_for(key)}?uploadId={quote(upload_id, safe='')}"

    def _locate(self, url: str) -> tuple[str, str | None]:
        """(key, upload id of an unfinished write or None) of a location of this store; NotFound otherwise."""
        scheme, sep, rest = url.partition("://")
        if not sep or scheme.lower() not in ("s3", "s3+http", "s3+https"):
            raise NotFound(f"Location {url} does not belong to store {self.id}")
        rest, _, query = rest.partition("?")
        # locations written by Glance may carry credentials (``access:secret@host``; a secret may hold '/')
        rest = rest.rpartition("@")[2]
        netloc, _, path = rest.partition("/")
        bucket, _, key = path.partition("/")
        if netloc.lower() != self._netloc or unquote(bucket) != self.bucket or not key:
            raise NotFound(f"Location {url} does not belong to store {self.id}")
        upload_ids = parse_qs(query).get("uploadId") if query else None
        return unquote(key), upload_ids[0] if upload_ids else None

    def owns(self, url: str) -> bool:
        """An ``s3://`` (or ``s3+http(s)://``) location of an object in this store's bucket on its endpoint."""
        try:
            _, upload_id = self._locate(url)
        except NotFound:
            return False
        return upload_id is None

    # -- blocking calls (run in worker threads) --------------------------------------------------------
    def _fail(self, exc: Exception, what: str, *, writing: bool = False) -> StoreError:
        if isinstance(exc, ClientError) and _code(exc) == "NoSuchBucket":
            self._bucket_exists = False
        return _failure(self.id, self.bucket, exc, what, writing=writing)

    async def _thread(self, call: Callable[..., T], *args: Any, what: str, writing: bool = False) -> T:
        try:
            return await anyio.to_thread.run_sync(call, *args)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, what, writing=writing) from exc

    def _upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> str:
        try:
            response = self.client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data, ContentMD5=_md5(data)
            )
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, f"cannot write part {number} of {key}", writing=True) from exc
        return str(response["ETag"])

    def _complete_upload(self, key: str, upload_id: str, parts: list[dict[str, Any]]) -> None:
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )

    def _abort_upload(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if _code(exc) != "NoSuchUpload":
                raise

    def _put_streamed(self, key: str, body: _SourceBody) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentLength=body.size, ChecksumAlgorithm="CRC32"
            )
        except (BotoCoreError, ClientError) as exc:
            if body.failure is not None:
                raise _SourceFailed("the source failed") from exc
            raise self._fail(exc, f"cannot write {key}", writing=True) from exc

    def _explained(self, exc: ClientError) -> ClientError:
        """A HEAD's error has no body, so no code: a bad secret and a missing permission both look like
        "403". A GET of the bucket (no keys) tells which; its error, when it has one, replaces the HEAD's (a
        "404" may also be the bucket's)."""
        if _code(exc) not in ("400", "403", "404"):
            return exc
        try:
            self.client.list_objects_v2(Bucket=self.bucket, MaxKeys=0)
        except ClientError as explained:
            if not _code(explained).isdigit():
                return explained
        except BotoCoreError:
            pass
        return exc

    def _remove_object(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def _ensure_bucket(self, create: bool, *, known: bool = False) -> None:
        """The bucket exists (created when ``create``); raises botocore's error otherwise. With ``known``, a
        bucket this store has already seen is not looked up again.

        One call at a time per store, the others wait and then see the bucket: concurrent first writes must
        not look the bucket up while one of them creates it. Swift's proxy caches a container's "404" (for a
        tenth of ``recheck_container_existence``, 6 s by default) when that lookup's answer comes back, and a
        lookup answered "not found" just before the creation can store that answer just after the creation
        cleared the cache; every object PUT then fails with NoSuchBucket until the entry expires. Checked
        one after the other, the lookup's 404 is cached before the creation clears it.
        """
        with self._bucket_lock:
            if known and self._bucket_exists:
                return
            self._look_up_or_create_bucket(create)
            self._bucket_exists = True

    def _look_up_or_create_bucket(self, create: bool) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if _status(exc) != 404 and _code(exc) not in ("404", "NoSuchBucket"):
                raise self._explained(exc) from None
            if not create:
                raise StoreError(
                    f"Store {self.id}: its bucket {self.bucket} does not exist "
                    f"(and s3_store_create_bucket_on_put is off)"
                ) from None
        params: dict[str, Any] = {"Bucket": self.bucket}
        if self.options.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.options.region}
        try:
            self.client.create_bucket(**params)
        except ClientError as exc:
            if _code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
            self.client.head_bucket(Bucket=self.bucket)  # created meanwhile: ours if we can see it
        log.info("store %s: created bucket %s", self.id, self.bucket)

    def _scan(self) -> list[ListedObject]:
        try:
            return self._scan_bucket()
        except ClientError as exc:
            if _code(exc) == "NoSuchBucket" and self.options.create_bucket_on_put:
                return []  # nothing was written yet: the first write creates the bucket
            raise

    def _scan_bucket(self) -> list[ListedObject]:
        found: list[ListedObject] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for item in page.get("Contents", []):
                found.append(ListedObject(url=self.url_for(item["Key"]), size=int(item["Size"]), key=item["Key"]))
        for page in self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket):
            for upload in page.get("Uploads", []):
                key, upload_id = upload["Key"], upload["UploadId"]
                size = self._uploaded_size(key, upload_id)
                if size is not None:
                    found.append(ListedObject(self._partial_url(key, upload_id), size, key, partial=True))
        return sorted(found, key=lambda listed: listed.url)

    def _uploaded_size(self, key: str, upload_id: str) -> int | None:
        """The bytes of an unfinished upload's parts so far; None when it ended meanwhile."""
        size = 0
        try:
            pages = self.client.get_paginator("list_parts").paginate(Bucket=self.bucket, Key=key, UploadId=upload_id)
            for page in pages:
                size += sum(int(part["Size"]) for part in page.get("Parts", []))
        except ClientError as exc:
            if _code(exc) == "NoSuchUpload":
                return None
            raise
        return size

    def _head(self, key: str) -> int | None:
        try:
            response = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            explained = self._explained(exc)
            if _status(explained) == 404 and _code(explained) != "NoSuchBucket":
                return None
            raise explained from None
        return int(response["ContentLength"])

    def _get(self, key: str, start: int, length: int | None) -> Any:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if length is not None:
            params["Range"] = f"bytes={start}-{start + length - 1}"
        elif start:
            params["Range"] = f"bytes={start}-"
        try:
            return self.client.get_object(**params)["Body"]
        except ClientError as exc:
            if _code(exc) == "InvalidRange":  # starts at or past the end: nothing to read
                return None
            raise

    # -- the protocol ----------------------------------------------------------------------------------
    async def put(self, key: str, blocks: AsyncIterator[Block], size_hint: int | None = None) -> StoredObject:
        if not self._bucket_exists:
            ensure = functools.partial(self._ensure_bucket, self.options.create_bucket_on_put, known=True)
            await self._thread(ensure, what="cannot write")
        if size_hint is not None and size_hint < self.options.large_object_size:
            return await self._put_stream(key, blocks, size_hint)
        if size_hint is not None:
            return await self._put_multipart(key, blocks, bytearray(), size_hint)
        head = bytearray()
        async for block in blocks:
            head += block
            if len(head) >= self.options.large_object_size:
                return await self._put_multipart(key, blocks, head, None)
        return await self._put_buffered(key, bytes(head))

    async def _put_buffered(self, key: str, data: bytes) -> StoredObject:
        def send() -> None:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentMD5=_md5(data))

        try:
            await self._thread(send, what=f"cannot write {key}", writing=True)
        except BaseException as exc:
            if not isinstance(exc.__cause__, ClientError):  # no answer: it may have been stored
                await _finish_anyway(self._forget(key))
            raise
        return StoredObject(url=self.url_for(key), size=len(data))

    async def _put_stream(self, key: str, blocks: AsyncIterator[Block], size: int) -> StoredObject:
        body = _SourceBody(blocks, size, asyncio.get_running_loop())
        sending = _in_own_thread(f"s3-{self.id}-put", lambda: self._put_streamed(key, body))
        try:
            await asyncio.wrap_future(sending)
        except BaseException as exc:
            body.stop()
            # the service stores nothing before the last chunk; once that went out, an answer may be lost
            await _finish_anyway(self._forget(key, sending, stored=body.position >= body.size))
            if body.failure is not None and isinstance(exc, _SourceFailed):
                raise body.failure from None
            raise
        return StoredObject(url=self.url_for(key), size=size)

    async def _forget(
        self, key: str, sending: concurrent.futures.Future[Any] | None = None, *, stored: bool = True
    ) -> None:
        """After a failed single PUT: once its thread has ended, make sure no object stays under ``key``
        when it may have been stored (a PUT whose answer was lost)."""
        if sending is not None:
            await _settled([sending])
        if not stored:
            return
        try:
            await anyio.to_thread.run_sync(self._remove_object, key)
        except Exception:
            log.warning("store %s: could not remove %s after a failed write", self.id, key, exc_info=True)

    def _part_size(self, number: int, size_hint: int | None) -> int:
        base = self.options.part_size
        if size_hint is not None:
            return max(base, math.ceil(size_hint / MAX_PARTS / MB) * MB)
        return base * (1 + (number - 1) // GROW_EVERY)

    async def _put_multipart(
        self, key: str, blocks: AsyncIterator[Block], pending: bytearray, size_hint: int | None
    ) -> StoredObject:
        response = await self._thread(
            lambda: self.client.create_multipart_upload(Bucket=self.bucket, Key=key),
            what=f"cannot start an upload of {key}",
            writing=True,
        )
        upload = _Multipart(self, key, str(response["UploadId"]))
        total = len(pending)
        try:
            await self._send_full_parts(upload, pending, size_hint)
            async for block in blocks:
                pending += block
                total += len(block)
                await self._send_full_parts(upload, pending, size_hint)
            if pending or not upload.count:
                await upload.send(bytes(pending))
                pending.clear()
            await upload.complete()
        except BaseException:
            pending.clear()
            await _finish_anyway(upload.abort())
            raise
        return StoredObject(url=self.url_for(key), size=total)

    async def _send_full_parts(self, upload: _Multipart, pending: bytearray, size_hint: int | None) -> None:
        while len(pending) >= (size := self._part_size(upload.count + 1, size_hint)):
            with memoryview(pending) as view, view[:size] as part:
                data = bytes(part)
            del pending[:size]
            await upload.send(data)

    async def open(self, url: str, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        key, upload_id = self._locate(url)
        if upload_id is not None:
            raise NotFound(f"Location {url} is an unfinished write, not image data")
        if length is not None and length <= 0:
            return
        try:
            body = await anyio.to_thread.run_sync(self._get, key, start, length)
        except ClientError as exc:
            if _code(exc) == "NoSuchKey" or (_status(exc) == 404 and _code(exc) != "NoSuchBucket"):
                raise NotFound(f"Image data for {url} is missing from store {self.id}") from None
            raise self._fail(exc, f"cannot read {key}") from exc
        except BotoCoreError as exc:
            raise self._fail(exc, f"cannot read {key}") from exc
        if body is None:
            return
        try:
            while True:
                try:
                    chunk = await anyio.to_thread.run_sync(body.read, self.chunk_size)
                except (BotoCoreError, ClientError) as exc:
                    raise self._fail(exc, f"cannot read {key}") from exc
                if not chunk:
                    break
                yield chunk
        finally:
            body.close()

    async def delete(self, url: str) -> None:
        key, upload_id = self._locate(url)
        if upload_id is not None:
            await self._thread(self._abort_upload, key, upload_id, what=f"cannot remove an upload of {key}")
            return
        try:
            await anyio.to_thread.run_sync(self._remove_object, key)
        except ClientError as exc:
            if _status(exc) == 404:  # the object, or even its bucket, is gone
                return
            raise self._fail(exc, f"cannot delete {key}", writing=True) from exc
        except BotoCoreError as exc:
            raise self._fail(exc, f"cannot delete {key}", writing=True) from exc

    async def stat(self, url: str) -> int | None:
        key, upload_id = self._locate(url)
        if upload_id is not None:
            return await self._thread(self._uploaded_size, key, upload_id, what=f"cannot examine {key}")
        return await self._thread(self._head, key, what=f"cannot examine {key}")

    async def list_objects(self) -> AsyncIterator[ListedObject]:
        for listed in await self._thread(self._scan, what="cannot list its bucket"):
            yield listed

    def details(self) -> dict[str, object]:
        return {  # Glance's keys (sizes in bytes)
            "s3_store_large_object_size": self.options.large_object_size,
            "s3_store_large_object_chunk_size": self.options.part_size,
            "s3_store_thread_pools": self.options.thread_pools,
        }

    async def check(self) -> None:
        await self._thread(self._ensure_bucket, self.options.create_bucket_on_put, what="is not usable")
