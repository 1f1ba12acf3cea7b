"""The import call: parse and check the request, reserve its quota, then in one transaction mark the image and
enqueue its task.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from glimpse.context import RequestContext
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.images import Image, Status, is_uuid, new_id
from glimpse.domain.quotas import Resource
from glimpse.domain.tasks import Task, TaskStatus, TaskType
from glimpse.errors import BadRequest, Conflict
from glimpse.events import payloads
from glimpse.services.image_import.base import ImportBase
from glimpse.services.image_import.bookkeeping import (
    FAILED_IMPORT,
    IMPORT_TASK,
    IMPORTING_TO,
    _check_import_status,
    _csv,
)
from glimpse.services.images import target_of
from glimpse.services.task_queue import TASK_TTL
from glimpse.stores.base import READ_ONLY_TYPES


@dataclass(frozen=True, slots=True)
class ImportRequest:
    method: str
    uri: str | None
    remote: dict[str, str] | None
    stores: list[str]
    all_must_succeed: bool


def _import_claim(image: Image, request: ImportRequest) -> dict[Resource, int]:
    """What an import reserves when it is asked for: a place among the uploading images (a staged image
    already has one), and the size of the copies when it is known (else reserved as the data arrives)."""
    known = image.size if request.method in ("glance-direct", "copy-image") and image.size is not None else 0
    return {
        Resource.IMAGE_COUNT_UPLOADING: 0 if request.method == "glance-direct" else 1,
        Resource.IMAGE_SIZE_TOTAL: known * len(request.stores),
    }


class ImportCall(ImportBase):
    """POST /v2/images/{id}/import: validate, move the image to `importing`, record a durable task."""

    def _parse(self, image: Image, body: Mapping[str, Any]) -> ImportRequest:
        method = body.get("method")
        if not isinstance(method, dict) or not isinstance(method.get("name"), str):
            raise BadRequest("Import request requires a 'method' object with a 'name'.")
        name = method["name"]
        if name not in self.methods:
            raise BadRequest(f"Import method {name} is not supported by this deployment.")
        uri = method.get("uri")
        if name == "web-download" and (not isinstance(uri, str) or not uri):
            raise BadRequest("URI for web-download does not pass filtering: a 'uri' is required.")
        remote = None
        if name == "glance-download":  # Glance's checks; the region is looked up when the task runs
            remote_id, region = method.get("glance_image_id"), method.get("glance_region")
            if "glance_region" not in method:
                raise BadRequest("'glance_region' needs to be set for glance-download import method")
            if "glance_image_id" not in method:
                raise BadRequest("'glance_image_id' needs to be set for glance-download import method")
            if not isinstance(remote_id, str) or not is_uuid(remote_id):
                raise BadRequest(f"Remote image id does not look like a UUID: {remote_id}")
            remote = {
                "glance_image_id": remote_id,
                "glance_region": str(region),
                "glance_service_interface": str(method.get("glance_service_interface", "public")),
            }
        all_stores = body.get("all_stores", False)
        stores = body.get("stores")
        if not isinstance(all_stores, bool):
            raise BadRequest("'all_stores' must be a boolean")
        if stores is not None and (not isinstance(stores, list) or not all(isinstance(x, str) for x in stores)):
            raise BadRequest("'stores' must be a list of store identifiers")
        if all_stores and stores:
            raise BadRequest("All_stores parameter can't be used with x-image-meta-store header or stores parameter")
        must = body.get("all_stores_must_succeed", True)
        if not isinstance(must, bool):
            raise BadRequest("'all_stores_must_succeed' must be a boolean")
        if all_stores:  # read-only stores (http) only serve locations: never an import's target
            targets = [store.id for store in self.stores if store.type not in READ_ONLY_TYPES]
        elif stores:
            targets = list(dict.fromkeys(stores))
        else:
            targets = [self.stores.default_id]
        for store_id in targets:
            if store_id not in self.stores:  # Glance: 409 for an import (an upload says 400)
                raise Conflict(f"Store for identifier {store_id} not found")
            if self.stores.get(store_id).type in READ_ONLY_TYPES:
                raise Conflict(f"Store {store_id} is read-only: data cannot be imported into it")
        if name == "copy-image":
            if not all_stores:  # stores named one by one must all be new (Glance)
                for store_id in targets:
                    if store_id in image.stores:
                        raise BadRequest(f"Image is already present at store '{store_id}'")
            targets = [store_id for store_id in targets if store_id not in image.stores]
            if not targets:
                raise BadRequest("Image is already present at all requested stores")
        return ImportRequest(
            method=name,
            uri=uri if name == "web-download" else None,
            remote=remote,
            stores=targets,
            all_must_succeed=must,
        )

    async def start(
        self,
        ctx: RequestContext,
        image_id: str,
        body: Mapping[str, Any],
        *,
        task_type: TaskType = TaskType.API_IMAGE_IMPORT,
        task_input: Mapping[str, Any] | None = None,
    ) -> Task:
        image = await self.images.load(ctx, image_id)
        request = self._parse(image, body)
        if request.method == "copy-image":
            self.policy.enforce(ctx, "copy_image", target_of(image))
        else:
            self.policy.enforce(ctx, "modify_image", target_of(image))
        # Glance's order: the image's status, its formats (409), then web-download's filtering (400)
        _check_import_status(image, request.method)
        if not image.container_format:
            raise Conflict("'container_format' needs to be set before import")
        if not image.disk_format:
            raise Conflict("'disk_format' needs to be set before import")
        if request.method == "web-download":
            assert request.uri is not None
            await self.check_url(request.uri)
        if request.method != "copy-image":  # a copy brings no new data
            self.images.keys.admit(image)
        task_input = {
            **(task_input or {}),
            **await self.images.signatures.task_input(ctx, image, copy=request.method == "copy-image"),
        }
        now = utcnow()
        task = Task(
            id=new_id(), type=task_type, status=TaskStatus.PENDING, owner=image.owner,
            created_at=now, updated_at=now, image_id=image_id, user_id=ctx.user_id, request_id=ctx.request_id,
            input={"image_id": image_id,
                   "method": {"name": request.method, "uri": request.uri, **(request.remote or {})},
                   "stores": request.stores, "all_stores_must_succeed": request.all_must_succeed,
                   "backend": request.stores, "import_req": dict(body), **(task_input or {})},
            expires_at=now + TASK_TTL,
        )  # fmt: skip
        if request.method == "glance-download" and ctx.auth_token:
            self.regions.hold_token(task.id, ctx.auth_token)

        def work(session: Any) -> None:
            repo = ImageRepository(session)
            current = repo.get(image_id, ctx, for_update=True)
            _check_import_status(current, request.method)
            if request.method != "copy-image":
                current.move_to(Status.IMPORTING, now)
            current.properties[IMPORT_TASK] = task.id
            current.properties[IMPORTING_TO] = _csv(request.stores)
            # as Glance: the stores of this import leave the failed list (which then usually reads "")
            failed = set(current.properties.get(FAILED_IMPORT, "").split(",")) - set(request.stores) - {""}
            current.properties[FAILED_IMPORT] = _csv(sorted(failed))
            current.updated_at = now
            repo.save(current)
            self.queue.enqueue(session, task)
            self.events.emit(session, "task.create", payloads.task(task))
            self.events.emit(session, "image.update", payloads.image(current))

        await self.images.quotas.claim_and_commit(
            image.owner,
            _import_claim(image, request),
            lambda: self.db.run(work),
            holder=f"import:{task.id}",
            hold=TASK_TTL,
            then_drop=[Resource.IMAGE_COUNT_UPLOADING],  # the image counts as uploading while importing
        )
        return task
