"""Artifact blobs: upload, external and internal locations, download, delete; their data stored once per sha256.

Storage (content-addressed, deduplicated): the bytes of an upload go through THE data pipeline into the
default store under a fresh key, with md5, sha1, sha256 and the images' multihash computed on the way (and,
when the artifact's metadata signs the blob, the signature verified as an image's is: services/signatures.py,
``blob_properties``; a bad one fails the upload and leaves nothing stored). Then,
in one transaction holding the object's lock (a row of ``artifact_locks`` named after the sha256):

- an object with that sha256 already exists: the blob names it, and the bytes just written are removed;
- a live image in the same store holds exactly these bytes (size, md5 and multihash): the object is created
  at the image's location (its row locked meanwhile), and the bytes just written are removed;
- else the object is created where the bytes were just written.

Reference counting: an object's count is the number of internal blob rows naming its sha256, counted under
its lock. Whoever drops a reference (a re-upload, an artifact's delete) counts again under that lock in the
same transaction; at zero, the object row goes and, unless an image still keeps its data there (that image's
row locked), a task to delete the data is enqueued in that very transaction. So bytes are deleted only once
nothing references them, and never forgotten: the task is durable. An image's delete leaves the data an
object shares (``ImageService.remove_data``).

Crash consistency: a blob is ``saving`` while its bytes stream; it keeps its previous data's columns (so its
previous object stays referenced), and goes back to them, or away for a first upload, when the upload fails,
or at the next start after a crash (``Fsck.recover``). Bytes written but never committed are an orphan that
`glimpse fsck` finds by their ``artifact-`` key and removes (with no upload running).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from glimpse.context import RequestContext
from glimpse.data import pipeline
from glimpse.data.atrest import AtRest
from glimpse.db import Database
from glimpse.db.models import ArtifactBlobObjectRow
from glimpse.db.repositories.artifact_blobs import BlobRepository
from glimpse.db.repositories.artifacts import ArtifactRecord, ArtifactRepository, Viewer, scope_id
from glimpse.domain.artifacts import lifecycle
from glimpse.domain.artifacts.fields import Field
from glimpse.domain.artifacts.types import ArtifactType
from glimpse.domain.clock import utcnow
from glimpse.errors import BadRequest, Conflict, Forbidden, NotFound, OverLimit, StoreError, TooLarge
from glimpse.services.artifacts.blob_objects import BlobObjects, object_lock
from glimpse.services.artifacts.quotas import UploadQuota
from glimpse.services.artifacts.service import ArtifactService
from glimpse.services.signatures import Signatures
from glimpse.services.task_queue import TaskQueue
from glimpse.stores.base import StoredObject
from glimpse.stores.registry import StoreRegistry

log = logging.getLogger(__name__)

LOCATION_MEDIA_TYPE = "application/vnd+openstack.glare-custom-location+json"
KEY_PREFIX = "artifact-"  # the store key of every blob upload (fsck attributes such objects to artifacts)
RESTRICTED_SCHEMES = frozenset({"file", "filesystem", "swift+config", "sql"})  # never an internal location
INTERNAL_SCHEMES = frozenset({"http", "https"})  # internal locations Glimpse can read (through the fetch guard)
_HASHES = ("md5", "sha1", "sha256")
MAX_KEY_BYTES = 2048  # a folder key (it is part of a unique index: PostgreSQL's entries stay under 2.7 kB)
MAX_CONTENT_TYPE = 255
_COLUMN_WIDTHS = {"md5": 32, "sha1": 40, "sha256": 64}


@dataclass(slots=True)
class BlobDownload:
    """A blob's data (``body``) or, for an external blob, where to find it (``redirect``)."""

    meta: dict[str, Any]
    body: AsyncIterator[bytes] | None = None
    redirect: str | None = None


def parse_blob_path(path: str) -> tuple[str, str]:
    """``field`` or ``field/key`` -> (field, key ('' for a plain blob))."""
    name, _, key = path.partition("/")
    return name, key


def blob_name(name: str, key: str) -> str:
    return f"{name}[{key}]" if key else name


def _own_lock(kind: type[ArtifactType], artifact_id: str) -> str:
    return scope_id(kind.type_name, "artifact", artifact_id, None, "public")  # the lock updates hold


class BlobService:
    def __init__(
        self,
        artifacts: ArtifactService,
        db: Database,
        stores: StoreRegistry,
        queue: TaskQueue,
        check_url: Callable[[str], None],
        open_url: Callable[[str], Awaitable[AsyncIterator[bytes]]],
    ) -> None:
        self.artifacts = artifacts
        self.settings = artifacts.settings
        self.db = db
        self.stores = stores
        self.queue = queue
        self.check_url = check_url
        self.open_url = open_url
        self.objects = BlobObjects(self.settings, db, stores, queue)
        self.at_rest = AtRest()  # the stores that encrypt at rest (the container sets it)
        self.signatures = Signatures()  # the container gives it the key manager (the images' own)
        artifacts.release_blobs = self.objects.release

    # -- shared checks ---------------------------------------------------------------------------------
    def _field(self, kind: type[ArtifactType], name: str, key: str) -> Field:
        if len(key.encode()) > MAX_KEY_BYTES:
            raise BadRequest(f"A blob key is at most {MAX_KEY_BYTES} bytes long")
        item = kind.field(name)
        if key:
            if item is None or not item.is_folder:
                raise BadRequest(f"{name} is not a blob dict")
        elif item is None or not item.is_blob:
            raise BadRequest(f"{name} is not a blob")
        return item

    def _writable_type(self, type_name: str) -> type[ArtifactType]:
        kind = self.artifacts.types.get(type_name)
        if kind.is_all:
            raise Forbidden("This type is read only.")
        return kind

    def _cap(self, item: Field, record: ArtifactRecord | None, name: str, key: str) -> int:
        """The most bytes this blob may hold: its field's cap, ``max_blob_size``, the folder's room left."""
        cap = item.max_blob_size if item.max_blob_size is not None else self.settings.image_size_cap
        if self.settings.max_blob_size >= 0:
            cap = min(cap, self.settings.max_blob_size)
        if key and item.max_folder_size is not None and record is not None:
            used = sum(blob.get("size") or 0 for other, blob in record.blobs.get(name, {}).items() if other != key)
            cap = min(cap, max(item.max_folder_size - used, 0))
        return cap

    def _locked_record(
        self, ctx: RequestContext, repo: ArtifactRepository, kind: type[ArtifactType], artifact_id: str
    ) -> ArtifactRecord:
        repo.lock_scope(_own_lock(kind, artifact_id), utcnow())
        return self.artifacts.load_for_write(ctx, repo, kind, artifact_id)

    # -- upload ----------------------------------------------------------------------------------------
    async def upload(
        self,
        ctx: RequestContext,
        type_name: str,
        artifact_id: str,
        path: str,
        source: AsyncIterator[bytes],
        *,
        content_type: str,
        content_length: int | None,
    ) -> dict[str, Any]:
        kind = self._writable_type(type_name)
        name, key = parse_blob_path(path)
        item = self._field(kind, name, key)
        label = blob_name(name, key)
        if len(content_type) > MAX_CONTENT_TYPE:
            raise BadRequest(f"Content-Type is at most {MAX_CONTENT_TYPE} characters long")

        def begin(session: Any) -> tuple[int, dict[str, Any] | None, str, dict[str, Any]]:
            repo = ArtifactRepository(session)
            record = self._locked_record(ctx, repo, kind, artifact_id)
            self.artifacts.enforce(ctx, "artifact:upload", self.artifacts.present(kind, record))
            existing = record.blobs.get(name, {}).get(key)
            if existing is not None and existing["status"] == "saving":
                raise Conflict(f"Blob {label} already exists for artifact and it is in saving {artifact_id}")
            lifecycle.check_change_allowed(kind, record.columns["status"], name)
            cap = self._cap(item, record, name, key)
            if content_length is not None and content_length > cap:
                raise TooLarge(
                    f"Can't upload {content_length} bytes of data to blob {label}. Its max allowed size is {cap}"
                )
            saving = {**(existing or _empty_blob(content_type)), "status": "saving"}
            repo.set_blob(artifact_id, name, key, saving)
            repo.unlock_scope(_own_lock(kind, artifact_id))
            return cap, existing, record.columns["owner"], dict(record.properties.get("metadata") or {})

        cap, existing, owner, metadata = await self.db.run(begin)
        store = self.stores.default
        out = pipeline.Outcome()
        stored: StoredObject | None = None
        quota: UploadQuota | None = None
        try:
            # the owner's max_uploaded_data quotas hold the bytes while they stream (413 past one)
            quota = await self.artifacts.quotas.claim_upload(owner, kind.type_name, content_length)
            # signature properties in the artifact's metadata: the data is verified while it streams
            verify = await self.signatures.prepare_blob(ctx, metadata, path)
            steps = pipeline.Plan(
                block_size=self.settings.upload_block_size,
                cap=cap,
                algorithms=(*_HASHES, self.settings.hashing_algorithm),
                quota=quota.cover,
                sealing=self.at_rest,
                checks=(verify,) if verify is not None else (),
            )
            try:
                key_in_store = f"{KEY_PREFIX}{uuid.uuid4()}"
                await pipeline.run(source, steps, [store], key_in_store, size_hint=content_length, out=out)
            except OverLimit:
                raise
            except TooLarge:
                raise TooLarge(
                    f"Can't upload more than {cap} bytes of data to blob {label}: its max allowed size is {cap}"
                ) from None
            stored = out.stored[store.id]
            digests = out.hexdigests
            blob = {
                "status": "active", "external": False, "size": out.size, "md5": digests["md5"],
                "sha1": digests["sha1"], "sha256": digests["sha256"], "content_type": content_type, "url": None,
            }  # fmt: skip
            record, keep = await self.db.run(
                lambda session: self._commit_upload(
                    session,
                    kind,
                    artifact_id,
                    name,
                    key,
                    existing,
                    blob,
                    store.id,
                    stored,
                    digests[self.settings.hashing_algorithm],
                )
            )
        except BaseException:
            await asyncio.shield(self._abandon(kind, artifact_id, name, key, existing, stored))
            raise
        finally:
            if quota is not None:  # the recorded blob counts from now on
                await asyncio.shield(quota.release())
        if not keep:  # the data was there already (a blob's or an image's): these bytes are not needed
            await _quietly(store.delete(stored.url))
        return self.artifacts.present(kind, record)

    def _commit_upload(
        self,
        session: Any,
        kind: type[ArtifactType],
        artifact_id: str,
        name: str,
        key: str,
        existing: dict[str, Any] | None,
        blob: dict[str, Any],
        store_id: str,
        stored: StoredObject,
        multihash: str,
    ) -> tuple[ArtifactRecord, bool]:
        """The end of an upload: the blob names its object, found or created. Returns the artifact and whether
        the bytes just written are the object's."""
        repo = ArtifactRepository(session)
        now = utcnow()
        repo.lock_scope(_own_lock(kind, artifact_id), now)
        record = repo.get(artifact_id, kind.type_name, Viewer(None, all_projects=True))
        current = record.blobs.get(name, {}).get(key)
        if current is None or current["status"] != "saving" or record.columns["status"] == "deleted":
            raise NotFound(f"Artifact {artifact_id} or its blob changed while the blob was being uploaded")
        sha256 = blob["sha256"]
        previous = _internal_sha(existing)
        for lock in sorted({object_lock(sha256), *([object_lock(previous)] if previous else [])}):
            repo.lock_scope(lock, now)
        keep = self.objects.place(session, blob, store_id, stored.url, multihash, now)
        repo.set_blob(artifact_id, name, key, blob)
        repo.update_columns(artifact_id, {"updated_at": now})
        if previous and previous != sha256:
            self.objects.release_locked(session, previous)
        for lock in {object_lock(sha256), *([object_lock(previous)] if previous else [])}:
            repo.unlock_scope(lock)
        repo.unlock_scope(_own_lock(kind, artifact_id))
        return repo.get(artifact_id, kind.type_name, Viewer(None, all_projects=True)), keep

    async def _abandon(
        self,
        kind: type[ArtifactType],
        artifact_id: str,
        name: str,
        key: str,
        existing: dict[str, Any] | None,
        stored: StoredObject | None,
    ) -> None:
        """After a failed upload: the bytes written go, the blob is back to what it was (or gone). When the
        failure hid the outcome of the final commit (the database failed during it), the database decides:
        bytes an object names were committed and stay; with no answer, they stay for `glimpse fsck`."""
        if stored is not None:
            url = stored.url
            try:
                committed = await self.db.run(lambda s: bool(BlobRepository(s).shared_urls([url])))
            except Exception:
                log.warning("artifact %s: the outcome of its blob upload is unknown; its bytes at %s are left "
                            "for `glimpse fsck`", artifact_id, url)  # fmt: skip
                return
            if committed:
                return
            await _quietly(self.stores.default.delete(url))

        def settle(session: Any) -> None:
            repo = ArtifactRepository(session)
            repo.lock_scope(_own_lock(kind, artifact_id), utcnow())
            try:
                record = repo.get(artifact_id, kind.type_name, Viewer(None, all_projects=True))
            except NotFound:
                record = None
            current = record.blobs.get(name, {}).get(key) if record is not None else None
            if current is not None and current["status"] == "saving":
                repo.set_blob(artifact_id, name, key, existing)
            repo.unlock_scope(_own_lock(kind, artifact_id))

        try:
            await self.db.run(settle)
        except Exception:
            log.exception(
                "artifact %s: blob %s stays 'saving' after its failed upload until the next start",
                artifact_id,
                blob_name(name, key),
            )

    # -- locations -------------------------------------------------------------------------------------
    async def add_location(
        self, ctx: RequestContext, type_name: str, artifact_id: str, path: str, raw: bytes
    ) -> dict[str, Any]:
        kind = self._writable_type(type_name)
        name, key = parse_blob_path(path)
        data = _location_body(raw)
        url = data["url"]
        location_type = data.get("location_type", "external")
        if location_type == "external":
            rule = "artifact:set_location"
            if not url.startswith("http"):
                raise BadRequest(f"Url '{url}' doesn't have http(s) scheme")
            if "md5" not in data:
                raise BadRequest(
                    "Incorrect blob metadata. MD5 must be specified for external location in artifact blob."
                )
            self.check_url(url)  # the SSRF guard's rules (scheme, host, port) for a URL clients are sent to
        elif location_type == "internal":
            rule = "artifact:set_internal_location"
            scheme = urlparse(url).scheme.lower()
            if scheme in RESTRICTED_SCHEMES:
                raise Forbidden(f"Forbidden to set internal locations with scheme '{scheme}'")
            if scheme not in INTERNAL_SCHEMES:
                raise BadRequest(f"Unknown scheme '{scheme}'")
        else:
            raise BadRequest(
                f"Incorrect location type '{location_type}'. It must be one of the following external, internal"
            )
        self._field(kind, name, key)
        blob = {
            "status": "active", "external": location_type == "external", "size": None, "md5": data.get("md5"),
            "sha1": data.get("sha1"), "sha256": data.get("sha256"), "content_type": None, "url": url,
        }  # fmt: skip

        def work(session: Any) -> ArtifactRecord:
            repo = ArtifactRepository(session)
            record = self._locked_record(ctx, repo, kind, artifact_id)
            self.artifacts.enforce(ctx, rule, self.artifacts.present(kind, record))
            if record.blobs.get(name, {}).get(key) is not None:
                raise Conflict(f"Blob {name} already exists for artifact {artifact_id}")
            lifecycle.check_change_allowed(kind, record.columns["status"], name)
            repo.set_blob(artifact_id, name, key, blob)
            repo.update_columns(artifact_id, {"updated_at": utcnow()})
            repo.unlock_scope(_own_lock(kind, artifact_id))
            return repo.get(artifact_id, kind.type_name, Viewer(None, all_projects=True))

        return self.artifacts.present(kind, await self.db.run(work))

    async def delete_external(self, ctx: RequestContext, type_name: str, artifact_id: str, path: str) -> dict[str, Any]:
        kind = self._writable_type(type_name)
        name, key = parse_blob_path(path)
        self._field(kind, name, key)

        def work(session: Any) -> ArtifactRecord:
            repo = ArtifactRepository(session)
            record = self._locked_record(ctx, repo, kind, artifact_id)
            self.artifacts.enforce(ctx, "artifact:delete_blob", self.artifacts.present(kind, record))
            blob = record.blobs.get(name, {}).get(key)
            if blob is None:
                raise NotFound(f"Blob {blob_name(name, key)} wasn't found for artifact")
            if not blob["external"]:
                raise Forbidden(f"Blob {blob_name(name, key)} is not external")
            repo.set_blob(artifact_id, name, key, None)
            repo.update_columns(artifact_id, {"updated_at": utcnow()})
            repo.unlock_scope(_own_lock(kind, artifact_id))
            return repo.get(artifact_id, kind.type_name, Viewer(None, all_projects=True))

        return self.artifacts.present(kind, await self.db.run(work))

    # -- download --------------------------------------------------------------------------------------
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


def _empty_blob(content_type: str) -> dict[str, Any]:
    return {"external": False, "size": None, "md5": None, "sha1": None, "sha256": None,
            "content_type": content_type, "url": None}  # fmt: skip


def _internal_sha(blob: Mapping[str, Any] | None) -> str | None:
    """The sha256 of the object an uploaded blob holds (None for none, or for a location)."""
    if blob is None or blob.get("external") or blob.get("url"):
        return None
    value = blob.get("sha256")
    return value if isinstance(value, str) else None


def _location_body(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError:
        raise BadRequest("Malformed JSON in request body.") from None
    if not isinstance(data, dict):
        raise BadRequest(f"Dictionary expected as body value. Got {type(data).__name__}.")
    if not isinstance(data.get("url"), str):
        raise BadRequest(
            f"url is required when specifying external location. Cannot find 'url' in request body: {data}"
        )
    for item, width in _COLUMN_WIDTHS.items():
        value = data.get(item)
        if value is not None and (not isinstance(value, str) or len(value) > width):
            raise BadRequest(f"{item} must be a string of at most {width} characters")
    return data


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk


async def _quietly(awaitable: Awaitable[None]) -> None:
    try:
        await asyncio.shield(awaitable)
    except (StoreError, NotFound) as exc:
        log.warning("could not remove blob data: %s", exc)
    except Exception:
        log.exception("could not remove blob data")
