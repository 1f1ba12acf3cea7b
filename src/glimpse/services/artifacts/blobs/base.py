"""The collaborators and the checks every blob operation makes (the field, a writable type, the size cap, the
artifact's own lock), and blob paths."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from glimpse.context import RequestContext
from glimpse.data.atrest import AtRest
from glimpse.db import Database
from glimpse.db.repositories.artifacts import ArtifactRecord, ArtifactRepository, scope_id
from glimpse.domain.artifacts.fields import Field
from glimpse.domain.artifacts.types import ArtifactType
from glimpse.domain.clock import utcnow
from glimpse.errors import BadRequest, Forbidden
from glimpse.services.artifacts.blob_objects import BlobObjects
from glimpse.services.artifacts.service import ArtifactService
from glimpse.services.signatures import Signatures
from glimpse.services.task_queue import TaskQueue
from glimpse.stores.registry import StoreRegistry

MAX_KEY_BYTES = 2048  # a folder key (it is part of a unique index: PostgreSQL's entries stay under 2.7 kB)


def parse_blob_path(path: str) -> tuple[str, str]:
    """``field`` or ``field/key`` -> (field, key ('' for a plain blob))."""
    name, _, key = path.partition("/")
    return name, key


def blob_name(name: str, key: str) -> str:
    return f"{name}[{key}]" if key else name


def _own_lock(kind: type[ArtifactType], artifact_id: str) -> str:
    return scope_id(kind.type_name, "artifact", artifact_id, None, "public")  # the lock updates hold


class BlobBase:
    """What the parts of :class:`BlobService` share: its collaborators and the checks on a blob."""

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


def _internal_sha(blob: Mapping[str, Any] | None) -> str | None:
    """The sha256 of the object an uploaded blob holds (None for none, or for a location)."""
    if blob is None or blob.get("external") or blob.get("url"):
        return None
    value = blob.get("sha256")
    return value if isinstance(value, str) else None
