"""The import's bookkeeping on the image, as Glance keeps it: which task imports it, to which stores, which
failed, how far it is; the status an import method starts from; a task step that changes an image.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from glimpse.db.repositories.images import ImageRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.images import Image, Status
from glimpse.errors import Conflict, NotFound
from glimpse.services.task_queue import Step

IMPORT_TASK = "os_glance_import_task"
IMPORTING_TO = "os_glance_importing_to_stores"
FAILED_IMPORT = "os_glance_failed_import"
PROGRESS = "os_glance_import_progress"


def change_image(
    image_id: str, change: Callable[[Image], bool], saved: Callable[[Any, Image], None] | None = None
) -> Step:
    """A step that applies ``change`` to the image (locked; saved when ``change`` returns True, then
    ``saved(session, image)``); nothing when the image is gone."""

    def step(session: Any) -> None:
        repo = ImageRepository(session)
        try:
            image = repo.get(image_id, None, for_update=True)
        except NotFound:
            return
        if change(image):
            image.updated_at = utcnow()
            repo.save(image)
            if saved is not None:
                saved(session, image)

    return step


def _csv(values: list[str]) -> str:
    return ",".join(values)


_EXPECTED_STATUS = {
    "glance-direct": Status.UPLOADING,
    "web-download": Status.QUEUED,
    "copy-image": Status.ACTIVE,
    "glance-download": Status.QUEUED,
}


def _check_import_status(image: Image, method: str) -> None:
    """Conflict while another import runs, or unless ``image`` is in the status ``method`` imports from."""
    if IMPORT_TASK in image.properties and image.properties.get(IMPORTING_TO):
        raise Conflict(f"Image {image.id} is already being imported")
    if image.status == _EXPECTED_STATUS[method]:
        return
    if method == "glance-direct" and image.status == Status.QUEUED:
        raise Conflict(f"Image {image.id} has no staged data: use PUT /v2/images/{image.id}/stage first")
    raise Conflict(f"Image status transition from {image.status.value} to importing is not allowed for {method}")


def _end_import(image: Image, *, failed: list[str]) -> None:
    """The bookkeeping of a finished import, as Glance keeps it: the lock (``os_glance_import_task``) is
    dropped, nothing is importing any more, and the stores that failed are listed, sorted."""
    image.properties.pop(IMPORT_TASK, None)
    image.properties.pop(PROGRESS, None)
    image.properties[IMPORTING_TO] = ""
    known = set(image.properties.get(FAILED_IMPORT, "").split(",")) - {""}
    image.properties[FAILED_IMPORT] = _csv(sorted(known | set(failed)))
