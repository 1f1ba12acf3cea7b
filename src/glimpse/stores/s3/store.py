"""The S3 store: its parts (``base``, ``writes``, ``reads``) in one object, its details and its check."""

from __future__ import annotations

from glimpse.stores.s3.reads import Reading
from glimpse.stores.s3.writes import Writing


class S3Store(Writing, Reading):
    """An S3 bucket as an image store: writing (``writes.py``) and reading (``reads.py``) over the client,
    locations and bucket of ``base.py``."""

    type = "s3"

    def details(self) -> dict[str, object]:
        return {  # Glance's keys (sizes in bytes)
            "s3_store_large_object_size": self.options.large_object_size,
            "s3_store_large_object_chunk_size": self.options.part_size,
            "s3_store_thread_pools": self.options.thread_pools,
        }

    async def check(self) -> None:
        await self._thread(self._ensure_bucket, self.options.create_bucket_on_put, what="is not usable")
