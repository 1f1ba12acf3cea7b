"""Writing: one streamed PUT, a buffered PUT or a multipart upload, each undone when it fails; and removal."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import math
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
from botocore.exceptions import BotoCoreError, ClientError

from glimpse.stores.base import Block, StoredObject
from glimpse.stores.s3.base import S3Base
from glimpse.stores.s3.errors import error_code, http_status
from glimpse.stores.s3.options import GROW_EVERY, MAX_PARTS, MB
from glimpse.stores.s3.transfer import (
    Multipart,
    SourceBody,
    SourceFailed,
    content_md5,
    finish_anyway,
    in_own_thread,
    settled,
)

log = logging.getLogger("glimpse.stores.s3.store")  # the name the store has always logged under


class Writing(S3Base):
    """``put`` and ``delete``, and the blocking calls they (and a multipart upload's parts) make."""

    # -- blocking calls (run in worker threads) --------------------------------------------------------
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

    def _remove_object(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

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
