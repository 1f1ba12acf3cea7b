"""The S3 store: locations, the blocking calls run in worker threads, and the store protocol."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import math
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote, unquote, urlsplit

import anyio.to_thread
import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from glimpse.errors import NotFound, StoreError
from glimpse.stores.base import Block, ListedObject, StoredObject
from glimpse.stores.s3.errors import error_code, failure, http_status
from glimpse.stores.s3.options import GROW_EVERY, MAX_PARTS, MB, S3Options
from glimpse.stores.s3.transfer import (
    Multipart,
    SourceBody,
    SourceFailed,
    content_md5,
    finish_anyway,
    in_own_thread,
    send_streamed_with_trailer,
    settled,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


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
        self.client.meta.events.register("before-call.s3.PutObject", send_streamed_with_trailer)

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
        if isinstance(exc, ClientError) and error_code(exc) == "NoSuchBucket":
            self._bucket_exists = False
        return failure(self.id, self.bucket, exc, what, writing=writing)

    async def _thread(self, call: Callable[..., T], *args: Any, what: str, writing: bool = False) -> T:
        try:
            return await anyio.to_thread.run_sync(call, *args)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, what, writing=writing) from exc

    def _upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> str:
        try:
            response = self.client.upload_part(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=data,
                ContentMD5=content_md5(data),
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
            if error_code(exc) != "NoSuchUpload":
                raise

    def _put_streamed(self, key: str, body: SourceBody) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentLength=body.size, ChecksumAlgorithm="CRC32"
            )
        except (BotoCoreError, ClientError) as exc:
            if body.failure is not None:
                raise SourceFailed("the source failed") from exc
            raise self._fail(exc, f"cannot write {key}", writing=True) from exc

    def _explained(self, exc: ClientError) -> ClientError:
        """A HEAD's error has no body, so no code: a bad secret and a missing permission both look like
        "403". A GET of the bucket (no keys) tells which; its error, when it has one, replaces the HEAD's (a
        "404" may also be the bucket's)."""
        if error_code(exc) not in ("400", "403", "404"):
            return exc
        try:
            self.client.list_objects_v2(Bucket=self.bucket, MaxKeys=0)
        except ClientError as explained:
            if not error_code(explained).isdigit():
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
            if http_status(exc) != 404 and error_code(exc) not in ("404", "NoSuchBucket"):
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
            if error_code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
            self.client.head_bucket(Bucket=self.bucket)  # created meanwhile: ours if we can see it
        log.info("store %s: created bucket %s", self.id, self.bucket)

    def _scan(self) -> list[ListedObject]:
        try:
            return self._scan_bucket()
        except ClientError as exc:
            if error_code(exc) == "NoSuchBucket" and self.options.create_bucket_on_put:
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
            if error_code(exc) == "NoSuchUpload":
                return None
            raise
        return size

    def _head(self, key: str) -> int | None:
        try:
            response = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            explained = self._explained(exc)
            if http_status(explained) == 404 and error_code(explained) != "NoSuchBucket":
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
            if error_code(exc) == "InvalidRange":  # starts at or past the end: nothing to read
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
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentMD5=content_md5(data))

        try:
            await self._thread(send, what=f"cannot write {key}", writing=True)
        except BaseException as exc:
            if not isinstance(exc.__cause__, ClientError):  # no answer: it may have been stored
                await finish_anyway(self._forget(key))
            raise
        return StoredObject(url=self.url_for(key), size=len(data))

    async def _put_stream(self, key: str, blocks: AsyncIterator[Block], size: int) -> StoredObject:
        body = SourceBody(blocks, size, asyncio.get_running_loop())
        sending = in_own_thread(f"s3-{self.id}-put", lambda: self._put_streamed(key, body))
        try:
            await asyncio.wrap_future(sending)
        except BaseException as exc:
            body.stop()
            # the service stores nothing before the last chunk; once that went out, an answer may be lost
            await finish_anyway(self._forget(key, sending, stored=body.position >= body.size))
            if body.failure is not None and isinstance(exc, SourceFailed):
                raise body.failure from None
            raise
        return StoredObject(url=self.url_for(key), size=size)

    async def _forget(
        self, key: str, sending: concurrent.futures.Future[Any] | None = None, *, stored: bool = True
    ) -> None:
        """After a failed single PUT: once its thread has ended, make sure no object stays under ``key``
        when it may have been stored (a PUT whose answer was lost)."""
        if sending is not None:
            await settled([sending])
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
        upload = Multipart(self, key, str(response["UploadId"]))
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
            await finish_anyway(upload.abort())
            raise
        return StoredObject(url=self.url_for(key), size=total)

    async def _send_full_parts(self, upload: Multipart, pending: bytearray, size_hint: int | None) -> None:
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
            if error_code(exc) == "NoSuchKey" or (http_status(exc) == 404 and error_code(exc) != "NoSuchBucket"):
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
            if http_status(exc) == 404:  # the object, or even its bucket, is gone
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
