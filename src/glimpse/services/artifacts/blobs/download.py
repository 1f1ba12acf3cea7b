"""A blob's download: its object's data (decrypted when sealed), an internal location's, or a redirect."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from glimpse.context import RequestContext
from glimpse.db.models import ArtifactBlobObjectRow
from glimpse.db.repositories.artifact_blobs import BlobRepository
from glimpse.db.repositories.artifacts import ArtifactRecord, ArtifactRepository, Viewer
from glimpse.errors import Conflict, Forbidden, NotFound
from glimpse.services.artifacts.blobs.base import BlobBase, _internal_sha, blob_name, parse_blob_path

log = logging.getLogger("glimpse.services.artifacts.blobs")  # the package's name: what operators filter on


@dataclass(slots=True)
class BlobDownload:
    """A blob's data (``body``) or, for an external blob, where to find it (``redirect``)."""

    meta: dict[str, Any]
    body: AsyncIterator[bytes] | None = None
    redirect: str | None = None


class Downloading(BlobBase):
    """``GET .../{{blob path}}``."""

    async def download(self, ctx: RequestContext, type_name: str, artifact_id: str, path: str) -> BlobDownload:
        kind = self.artifacts.types.get(type_name)
        name, key = parse_blob_path(path)
        any_artifact = self.artifacts.allowed(ctx, "artifact:download_from_any_artifact")
        viewer = Viewer(ctx.project_id, all_projects=True) if any_artifact else self.artifacts.viewer(ctx)

        def work(session: Any) -> tuple[ArtifactRecord, ArtifactBlobObjectRow | None]:
            record = ArtifactRepository(session).get(artifact_id, None if kind.is_all else kind.type_name, viewer)
            real = self.artifacts.types.find(record.columns["type_name"]) or kind
            self._field(real, name, key)
            blob = record.blobs.get(name, {}).get(key)
            sha256 = _internal_sha(blob)
            return record, BlobRepository(session).object(sha256) if sha256 else None

        record, obj = await self.db.run(work)
        if not any_artifact:
            self.artifacts.enforce(ctx, "artifact:download", self.artifacts.present(kind, record))
        label = blob_name(name, key)
        if record.columns["status"] == "deleted":
            raise Forbidden("Cannot download data when artifact is deleted")
        blob = record.blobs.get(name, {}).get(key)
        if blob is None:
            raise NotFound(f"No data found for blob {label}")
        if blob["status"] != "active":
            raise Conflict(f"{label} is not ready for download")
        meta = {item: blob.get(item) for item in ("md5", "sha1", "sha256", "size", "content_type", "external")}
        if blob["external"]:
            return BlobDownload(meta, redirect=blob["url"])
        if blob.get("url"):  # an internal location set by an admin: read through the fetch guard
            return BlobDownload(meta, body=await self.open_url(blob["url"]))
        if obj is None or obj.store not in self.stores:
            raise NotFound(f"The data of blob {label} is not available")
        store = self.stores.get(obj.store)
        try:
            stream = aiter(await self.at_rest.open(store, obj.location, size=blob.get("size")))
            first = await anext(stream, b"")
        except NotFound:
            log.error("artifact %s: the data of blob %s is missing from store %s", artifact_id, label, obj.store)
            raise NotFound(f"The data of blob {label} is missing") from None
        return BlobDownload(meta, body=_prepend(first, stream))


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk
