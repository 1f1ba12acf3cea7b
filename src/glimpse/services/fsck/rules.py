"""What a stored object is: referenced live data (nothing to say), or the finding it makes."""

from __future__ import annotations

from glimpse.db.repositories.integrity import ImageState
from glimpse.domain.images import Status
from glimpse.services.fsck.report import Kind, _bytes
from glimpse.stores.base import ListedObject

ARTIFACT_KEY_PREFIX = "artifact-"  # the store keys of artifact blob uploads (glimpse.services.artifacts.blobs)
IMPORT_STATUSES = frozenset({Status.UPLOADING, Status.IMPORTING})


def classify(
    obj: ListedObject, state: ImageState | None, *, referenced: bool, uploads_may_run: bool
) -> tuple[Kind, str] | None:
    """What a stored object is: None when live data references it, else the finding it makes.

    ``state`` is the image its key names (None: no such image); ``referenced`` says whether any live
    location in the store holds the object's URL.
    """
    live = state is not None and not state.deleted
    if referenced or (live and state is not None and obj.url in state.urls):
        return None
    if live and state is not None and state.status in IMPORT_STATUSES and (uploads_may_run or not obj.partial):
        # staged or being imported: the import's task owns this data, and resumes or cleans it up itself;
        # but with no server running, an unfinished write is a dead attempt's (a retry writes its own)
        return Kind.IN_PROGRESS, f"{obj.url}: held by the import of image {obj.key} ('{state.status.value}')"
    if live and state is not None and state.status == Status.SAVING and uploads_may_run:
        return Kind.IN_PROGRESS, f"{obj.url}: being written by an upload of image {obj.key} ({_bytes(obj.size)} so far)"
    if live and obj.attempt and uploads_may_run:
        return Kind.IN_PROGRESS, f"{obj.url}: an import attempt's copy for image {obj.key}; the attempt may still run"
    if live and obj.partial and uploads_may_run:
        return Kind.IN_PROGRESS, (
            f"{obj.url}: an unfinished write for image {obj.key}, in progress or left by a crash (the next start "
            f"removes those)"
        )
    what = "unfinished write" if obj.partial else "object"
    if state is None and obj.key.startswith(ARTIFACT_KEY_PREFIX):  # an artifact blob's upload, never committed
        if uploads_may_run:
            return Kind.IN_PROGRESS, f"{obj.url}: an artifact blob upload in progress, or left by a crash"
        return Kind.ORPHAN, f"{obj.url}: {what} of an artifact blob upload no blob references ({_bytes(obj.size)})"
    if state is None:
        if obj.partial:
            return Kind.ORPHAN, f"{obj.url}: unfinished write ({_bytes(obj.size)})"
        return Kind.UNKNOWN_OBJECT, (
            f"{obj.url}: no image {obj.key} in the database, so this was not written through it; left alone "
            f"({_bytes(obj.size)})"
        )
    if live and state.urls and not obj.partial and not obj.attempt:
        return Kind.UNKNOWN_OBJECT, (
            f"{obj.url}: image {obj.key} keeps its data in this store at another location; left alone"
        )
    status = "deleted" if state.deleted else f"'{state.status.value}'"
    return Kind.ORPHAN, f"{obj.url}: {what} of image {obj.key}, which is {status} ({_bytes(obj.size)})"
