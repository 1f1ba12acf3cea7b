"""Image records: create, show, list, update (JSON-patch), delete, deactivate and reactivate."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from glimpse.context import RequestContext
from glimpse.data import signature
from glimpse.db import Database
from glimpse.db.repositories.artifact_blobs import BlobRepository
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain import encryption
from glimpse.domain import images as model
from glimpse.domain.clock import utcnow
from glimpse.domain.images import Image, Status, Visibility
from glimpse.domain.patch import PatchOp
from glimpse.domain.queries import parse_image_query
from glimpse.domain.quotas import Resource
from glimpse.errors import BadRequest, Conflict, Forbidden, NotFound, ReservedAttribute, StoreError, TooLarge
from glimpse.events import NO_EVENTS, Events, payloads
from glimpse.policy import Policy, PropertyProtections, Target
from glimpse.policy.protections import Operation
from glimpse.services.image_keys import ImageKeys, Rekeyed
from glimpse.services.quotas import IMAGES, DatabaseLimits, QuotaService
from glimpse.services.schemas import Schemas
from glimpse.services.signatures import Signatures
from glimpse.settings import Settings
from glimpse.stores.base import READ_ONLY_TYPES
from glimpse.stores.registry import StoreRegistry

if TYPE_CHECKING:
    from glimpse.services.location_patch import Checked, LocationPatch

log = logging.getLogger(__name__)

# core attributes only a queued (or importing) image may change, even to the same value (Glance's 403)
_FORMAT_ATTRIBUTES = ("disk_format", "container_format")

_COLUMN_ATTRIBUTES = (
    "name",
    "visibility",
    "protected",
    "os_hidden",
    "min_disk",
    "min_ram",
    "container_format",
    "disk_format",
    "owner",
)


def _users_of(url: str, session: Any) -> set[str]:
    return ImageRepository(session).using_location(url)


def target_of(image: Image, member_id: str | None = None) -> Target:
    """The policy target of an image: its owner and visibility, and its attributes for operators' rules."""
    attributes: dict[str, Any] = {
        **image.properties,
        "id": image.id,
        "name": image.name,
        "status": image.status.value,
        "protected": image.protected,
        "os_hidden": image.os_hidden,
        "disk_format": image.disk_format,
        "container_format": image.container_format,
        "min_disk": image.min_disk,
        "min_ram": image.min_ram,
    }
    return Target(project_id=image.owner, member_id=member_id, visibility=image.visibility.value, attributes=attributes)


def image_target(ctx: RequestContext, image: Image) -> Target:
    """The target Glance checks image (and member) rules against: for a shared image the caller does not
    own, ``member_id`` is the caller's project (Glance found the image because the project is a member)."""
    shared_with_caller = image.visibility == Visibility.SHARED and ctx.project_id != image.owner
    return target_of(image, ctx.project_id if shared_with_caller else None)


def enforce_on_image(policy: Policy, ctx: RequestContext, rule: str, image: Image) -> None:
    """Enforce ``rule`` on an image the way Glance does: a caller refused ``get_image`` too (who may not see
    the image: a system-scoped token, say) gets 404, so the refusal does not reveal that the image exists;
    a caller who may see it gets 403."""
    target = image_target(ctx, image)
    if policy.check(ctx, rule, target):
        return
    if rule == "get_image" or not policy.check(ctx, "get_image", target):
        raise NotFound("The resource could not be found.")
    raise Forbidden(f"You are not authorized to complete {rule} action.")


@dataclass(frozen=True, slots=True)
class ImagePage:
    images: list[Image]
    next_marker: str | None


class ImageService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        policy: Policy,
        schemas: Schemas,
        stores: StoreRegistry,
        protections: PropertyProtections | None = None,
        quotas: QuotaService[Resource] | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.policy = policy
        self.schemas = schemas
        self.stores = stores
        self.protections = protections
        self.quotas = quotas or QuotaService(db, DatabaseLimits(db), IMAGES)
        self.location_patch: LocationPatch | None = None  # the container sets it (it needs the stores' checks)
        self.events: Events = NO_EVENTS  # the container sets it
        self.signatures = Signatures()  # the container gives it the key manager
        self.keys = ImageKeys()  # likewise

    # -- what a caller may see of an image (property protections) -----------------------------------
    def visible_properties(self, ctx: RequestContext, image: Image) -> dict[str, str]:
        """The extra properties of ``image`` the caller may read: every image shown to a caller (API
        responses, event payloads) goes through here or :meth:`visible`."""
        if self.protections is None:
            return dict(image.properties)
        return self.protections.readable(ctx, image.properties)

    def visible(self, ctx: RequestContext, image: Image, memo: dict[str, bool] | None = None) -> Image:
        """``image`` as the caller may see it: without the properties it may not read."""
        if self.protections is None:
            return image
        readable = self.protections.readable(ctx, image.properties, memo)
        if len(readable) == len(image.properties):
            return image
        return dataclasses.replace(image, properties=readable)

    def _protect(self, ctx: RequestContext, name: str, operation: Operation) -> None:
        if self.protections is not None:
            self.protections.enforce(ctx, name, operation)

    # -- helpers shared by the other image services ---------------------------------------------------
    async def load(
        self, ctx: RequestContext, image_id: str, rule: str | None = "get_image", *, replica: bool = False
    ) -> Image:
        """Load an image the caller can see (404 otherwise) and enforce ``rule`` on it (:func:`enforce_on_image`);
        ``replica``: the read replica may serve it (a show, nothing a change is decided on)."""
        run = self.db.read if replica else self.db.run
        image = await run(lambda s: ImageRepository(s).get(image_id, ctx))
        if rule is not None:
            enforce_on_image(self.policy, ctx, rule, image)
        return image

    def _check_visibility_change(self, ctx: RequestContext, image: Image, visibility: str) -> None:
        if visibility == Visibility.PUBLIC.value:
            self.policy.enforce(ctx, "publicize_image", target_of(image))
        elif visibility == Visibility.COMMUNITY.value:
            self.policy.enforce(ctx, "communitize_image", target_of(image))

    def _check_limits(self, image: Image) -> None:
        if len(image.properties) > self.settings.image_property_quota:
            raise TooLarge(f"Maximum number of properties exceeded: the limit is {self.settings.image_property_quota}")
        if len(image.tags) > self.settings.image_tag_quota:
            raise TooLarge(f"Maximum number of tags exceeded: the limit is {self.settings.image_tag_quota}")

    def _validate(self, image: Image) -> None:
        document: dict[str, Any] = {name: getattr(image, name) for name in _COLUMN_ATTRIBUTES}
        document["visibility"] = image.visibility.value
        document["tags"] = sorted(image.tags)
        document.update(image.properties)
        self.schemas.validate_image(document)
        for name, value in image.properties.items():
            model.check_extra_property(name, value)
        encryption.parse(image.properties, container_formats=self.settings.container_formats)
        self._check_limits(image)

    # -- create ---------------------------------------------------------------------------------------
    async def create(self, ctx: RequestContext, body: Mapping[str, Any]) -> Image:
        for name in body:
            model.check_settable(name, creating=True)
        self.schemas.validate_image(body)
        owner = body.get("owner") or ctx.project_id
        now = utcnow()
        image_id = body.get("id") or model.new_id()
        image = Image(id=str(image_id), owner=owner, created_at=now, updated_at=now)
        self.policy.enforce(ctx, "add_image", Target(project_id=owner))
        for name, value in body.items():
            if name in ("id", "owner"):
                continue
            if name == "tags":
                image.tags = set(value)
            elif name == "visibility":
                image.visibility = Visibility(value)
            elif name == "locations":
                raise ReservedAttribute("locations")  # as Glance, even an empty list
            elif name in _COLUMN_ATTRIBUTES:
                setattr(image, name, value)
            else:
                self._protect(ctx, name, "create")
                image.properties[name] = value
        self._check_visibility_change(ctx, image, image.visibility.value)
        self._validate(image)

        exists = f"Image ID {image.id} already exists!"  # Glance's words, also when a racing create wins

        def insert(session: Any) -> None:
            repo = ImageRepository(session)
            if repo.exists_any(image.id):
                raise Conflict(exists)
            repo.add(image)
            self.events.emit(session, "image.create", payloads.image(image))

        claim = await self.quotas.claim(owner, {Resource.IMAGE_COUNT_TOTAL: 1}, holder=f"create:{image.id}")
        try:
            rekeyed = await self.keys.attach(ctx, image)  # its key's consumer, before the image exists
            try:
                await self.db.run(insert, duplicate=exists)
            except BaseException:
                await asyncio.shield(self.keys.undo(ctx, image, rekeyed))
                raise
        finally:
            await claim.release()
        return self.visible(ctx, image)

    # -- read -----------------------------------------------------------------------------------------
    async def get(self, ctx: RequestContext, image_id: str) -> Image:
        return self.visible(ctx, await self.load(ctx, image_id, replica=True))

    async def list(self, ctx: RequestContext, params: Sequence[tuple[str, str]]) -> ImagePage:
        self.policy.enforce(ctx, "get_images", Target(project_id=ctx.project_id))
        query = parse_image_query(
            params, default_limit=self.settings.limit_param_default, max_limit=self.settings.api_limit_max
        )
        if self.protections is not None and not all(
            self.protections.allows(ctx, name, "read") for name in query.properties
        ):
            return ImagePage(images=[], next_marker=None)  # no image has a property the caller cannot read
        images = await self.db.read(lambda s: ImageRepository(s).list(ctx, query))
        next_marker = images[-1].id if images and len(images) == query.limit else None
        memo: dict[str, bool] = {}
        return ImagePage(images=[self.visible(ctx, image, memo) for image in images], next_marker=next_marker)

    # -- update ---------------------------------------------------------------------------------------
    async def update(self, ctx: RequestContext, image_id: str, ops: Sequence[PatchOp]) -> Image:
        checked: Checked | None = None
        claim = None
        rekeyed: tuple[Image, Rekeyed] | None = None
        if any(op.path[0] in encryption.KEY_IDS for op in ops):
            rekeyed = await self._rekey(ctx, image_id, ops)
        if self.location_patch is not None and any(op.path[0] == "locations" for op in ops):
            # a location's store and size are checked before the transaction (it may cost a request)
            loaded = await self.load(ctx, image_id)
            checked = await self.location_patch.prepare(ctx, loaded, ops)
            if loaded.size is None and checked.urls:
                size = max(found.size for found in checked.urls.values())
                claim = await self.quotas.claim(
                    loaded.owner, {Resource.IMAGE_SIZE_TOTAL: size}, holder=f"location-patch:{image_id}"
                )

        def work(session: Any) -> Image:
            repo = ImageRepository(session)
            image = repo.get(image_id, ctx, for_update=True)
            enforce_on_image(self.policy, ctx, "modify_image", image)
            before = dict(image.properties)
            for op in ops:
                if op.path[0] == "locations" and self.location_patch is not None and checked is not None:
                    self.location_patch.apply(ctx, repo, image, op, checked)
                else:
                    self._apply(ctx, image, op)
            signature.still_verified(before, image.properties)
            self._validate(image)
            image.updated_at = utcnow()
            repo.save(image)
            self.events.emit(session, "image.update", payloads.image(image))
            return image

        try:
            image = await self.db.run(work)
        except BaseException:
            if rekeyed is not None:
                await asyncio.shield(self.keys.undo(ctx, *rekeyed))
            raise
        finally:
            if claim is not None:
                await claim.release()
        if rekeyed is not None and rekeyed[1].dropped is not None:  # the key the image no longer names
            await self.keys.release(ctx, image, rekeyed[1].dropped)
        if checked is not None and checked.removed:
            await self._remove_unused(image, checked.removed)
        return self.visible(ctx, image)

    async def _rekey(self, ctx: RequestContext, image_id: str, ops: Sequence[PatchOp]) -> tuple[Image, Rekeyed]:
        """A PATCH that names a key: the image as it will be, registered as the new key's consumer before the
        change is saved, and the key it stops naming."""
        loaded = await self.load(ctx, image_id)
        preview = dataclasses.replace(loaded, properties=dict(loaded.properties))
        for op in ops:
            if op.path[0] != "locations":
                self._apply(ctx, preview, op)
        self._validate(preview)
        return preview, await self.keys.attach(ctx, preview, loaded)

    async def _remove_unused(self, image: Image, removed: Sequence[model.Location]) -> None:
        """Delete the data of locations a PATCH removed, unless read-only or still used by an image."""
        for location in removed:
            store = self.stores.get(location.store) if location.store in self.stores else None
            if store is None or store.type in READ_ONLY_TYPES:
                continue
            if any(other.url == location.url for other in image.locations):
                continue
            if await self.db.run(functools.partial(_users_of, location.url)):
                continue
            await self.remove_data(dataclasses.replace(image, locations=[location]))

    def _apply(self, ctx: RequestContext, image: Image, op: PatchOp) -> None:
        name = op.path[0]
        if name == "locations":  # no LocationPatch wired (a bare ImageService): as with locations hidden
            raise Forbidden("It's not allowed to update locations if locations are invisible.")
        model.check_settable(name)
        if name == "tags":
            if op.op == "remove":
                raise Forbidden("Attribute 'tags' can not be removed; replace it with an empty list.")
            if not isinstance(op.value, list):
                raise BadRequest("Provided object does not match schema 'image': tags must be a list")
            image.tags = {str(tag) for tag in op.value}
            return
        if name in _COLUMN_ATTRIBUTES:
            if op.op == "remove":
                raise Forbidden(f"Attribute '{name}' is a core attribute and can not be removed.")
            if name == "owner" and op.value != image.owner:
                self.policy.enforce(ctx, "context_is_admin")
            if name in _FORMAT_ATTRIBUTES and image.status not in (Status.QUEUED, Status.IMPORTING):
                raise Forbidden(f"Attribute {name} can be only replaced for a queued image.")
            if name == "visibility":
                if op.value not in [v.value for v in Visibility]:
                    raise BadRequest(
                        f"Provided object does not match schema 'image': {op.value!r} is not one of "
                        f"{[v.value for v in Visibility]}"
                    )
                if op.value != image.visibility.value:
                    self._check_visibility_change(ctx, image, op.value)
                image.visibility = Visibility(op.value)
                return
            setattr(image, name, op.value)
            return
        present = name in image.properties
        hidden = self.protections is not None and not self.protections.allows(ctx, name, "read")
        if hidden and (op.op != "add" or present):
            # a property the caller cannot read: it may only create one where none exists
            self._protect(ctx, name, "delete" if op.op == "remove" else "update")
        if op.op == "add":
            self._protect(ctx, name, "update" if present else "create")
            image.properties[name] = op.value
        elif op.op == "replace":
            if not present:
                raise Conflict(f"Property {name} does not exist.")
            self._protect(ctx, name, "update")
            image.properties[name] = op.value
        else:
            if not present:
                raise Conflict(f"Property {name} does not exist.")
            self._protect(ctx, name, "delete")
            del image.properties[name]

    # -- delete and actions ---------------------------------------------------------------------------
    async def delete(self, ctx: RequestContext, image_id: str) -> None:
        def work(session: Any) -> Image:
            repo = ImageRepository(session)
            image = repo.get(image_id, ctx, for_update=True)
            enforce_on_image(self.policy, ctx, "delete_image", image)
            if image.protected:
                raise Forbidden(f"Image {image_id} is protected and cannot be deleted.")
            now = utcnow()
            repo.mark_deleted(image_id, now)
            gone = dataclasses.replace(image, status=Status.DELETED, updated_at=now)
            self.events.emit(session, "image.delete", payloads.image(gone, deleted=True))
            return image

        image = await self.db.run(work)
        await self.keys.detach(ctx, image)
        await self.remove_data(image)

    async def remove_data(self, image: Image) -> None:
        """Delete every copy of an image's data; failures are logged for `glimpse fsck` to find. A copy that
        artifact blobs share (stored once, ``glimpse.services.artifacts.blobs``) stays: they own it now."""
        shared = await self.db.run(lambda s: BlobRepository(s).shared_urls(loc.url for loc in image.locations))
        for location in image.locations:
            if location.url in shared:
                log.info("image %s: its data at %s stays, artifact blobs hold it", image.id, location.url)
                continue
            try:
                await self.stores.get(location.store).delete(location.url)
            except StoreError as exc:
                log.warning("could not delete data of image %s from store %s: %s", image.id, location.store, exc)
            except Exception:
                log.exception("could not delete data of image %s from store %s", image.id, location.store)

    async def deactivate(self, ctx: RequestContext, image_id: str) -> None:
        await self._set_active(ctx, image_id, "deactivate", Status.ACTIVE, Status.DEACTIVATED)

    async def reactivate(self, ctx: RequestContext, image_id: str) -> None:
        await self._set_active(ctx, image_id, "reactivate", Status.DEACTIVATED, Status.ACTIVE)

    async def _set_active(self, ctx: RequestContext, image_id: str, rule: str, source: Status, target: Status) -> None:
        def work(session: Any) -> None:
            repo = ImageRepository(session)
            image = repo.get(image_id, ctx, for_update=True)
            enforce_on_image(self.policy, ctx, rule, image)
            if image.status == target:
                return
            if image.status != source:
                raise Forbidden(f"Not allowed to {rule} image in status '{image.status.value}'")
            now = utcnow()
            repo.set_status(image_id, [source], target, now)
            self.events.emit(
                session, "image.update", payloads.image(dataclasses.replace(image, status=target, updated_at=now))
            )

        await self.db.run(work)
