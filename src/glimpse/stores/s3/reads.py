"""Reading: ranged reads, the size of an object or an unfinished upload, the listing of the bucket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
from botocore.exceptions import BotoCoreError, ClientError

from glimpse.errors import NotFound
from glimpse.stores.base import ListedObject
from glimpse.stores.s3.base import S3Base
from glimpse.stores.s3.errors import error_code, http_status


class Reading(S3Base):
    """``open``, ``stat`` and ``list_objects``, and the blocking calls they make."""

    # -- blocking calls (run in worker threads) --------------------------------------------------------
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

    async def stat(self, url: str) -> int | None:
        key, upload_id = self._locate(url)
        if upload_id is not None:
            return await self._thread(self._uploaded_size, key, upload_id, what=f"cannot examine {key}")
        return await self._thread(self._head, key, what=f"cannot examine {key}")

    async def list_objects(self) -> AsyncIterator[ListedObject]:
        for listed in await self._thread(self._scan, what="cannot list its bucket"):
            yield listed
