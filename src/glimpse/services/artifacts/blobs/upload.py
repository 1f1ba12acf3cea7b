"""A blob's upload through THE data pipeline, committed to its content-addressed object (or undone)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from glimpse.context import RequestContext
from glimpse.data import pipeline
from glimpse.db.repositories.artifact_blobs import BlobRepository
from glimpse.db.repositories.artifacts import ArtifactRecord, ArtifactRepository, Viewer
from glimpse.db.writers import blob_writer
from glimpse.domain.artifacts import lifecycle
from glimpse.domain.artifacts.types import ArtifactType
from glimpse.domain.clock import utcnow
from glimpse.errors import BadRequest, Conflict, NotFound, OverLimit, StoreError, TooLarge
from glimpse.services.artifacts.blob_objects import object_lock
from glimpse.services.artifacts.blobs.base import BlobBase, _internal_sha, _own_lock, blob_name, parse_blob_path
from glimpse.services.artifacts.quotas import UploadQuota
from glimpse.stores.base import StoredObject

log = logging.getLogger("glimpse.services.artifacts.blobs")  # the package's name: what operators filter on

KEY_PREFIX = "artifact-"  # the store key of every blob upload (fsck attributes such objects to artifacts)
_HASHES = ("md5", "sha1", "sha256")
MAX_CONTENT_TYPE = 255


class Uploading(BlobBase):
    """``PUT .../{{blob path}}`` with data."""

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

        key_in_store = f"{KEY_PREFIX}{uuid.uuid4()}"
        # the blob's writer lock and its object's, held from before it turns 'saving' until it is recorded or put
        # back: any node's recovery and fsck tell a dead upload's leftovers from a live one's (db/writers.py)
        writers = self.db.writers
        async with writers.holding(blob_writer(artifact_id, name, key)), writers.holding(key_in_store):
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


def _empty_blob(content_type: str) -> dict[str, Any]:
    return {"external": False, "size": None, "md5": None, "sha1": None, "sha256": None,
            "content_type": content_type, "url": None}  # fmt: skip


async def _quietly(awaitable: Awaitable[None]) -> None:
    try:
        await asyncio.shield(awaitable)
    except (StoreError, NotFound) as exc:
        log.warning("could not remove blob data: %s", exc)
    except Exception:
        log.exception("could not remove blob data")
