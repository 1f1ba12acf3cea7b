"""The collaborators every part of the image service uses: what a caller may see of an image, loading one,
and the checks create and update share."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from glimpse.context import RequestContext
from glimpse.db import Database
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain import encryption
from glimpse.domain import images as model
from glimpse.domain.images import Image, Visibility
from glimpse.domain.quotas import Resource
from glimpse.errors import TooLarge
from glimpse.events import NO_EVENTS, Events
from glimpse.policy import Policy, PropertyProtections
from glimpse.policy.protections import Operation
from glimpse.services.image_keys import ImageKeys
from glimpse.services.images.access import enforce_on_image, target_of
from glimpse.services.quotas import IMAGES, DatabaseLimits, QuotaService
from glimpse.services.schemas import Schemas
from glimpse.services.signatures import Signatures
from glimpse.settings import Settings
from glimpse.stores.registry import StoreRegistry

if TYPE_CHECKING:
    from glimpse.services.location_patch import LocationPatch

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


class ImageBase:
    """What the parts of :class:`ImageService` share: its collaborators and the checks on an image."""

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
        """The image as it would be stored: the schema, then what the schema does not say."""
        self.schemas.validate_image(image_document(image))
        self._check_properties(image)

    def _check_properties(self, image: Image) -> None:
        """Extra properties, encryption properties, limits."""
        for name, value in image.properties.items():
            model.check_extra_property(name, value)
        encryption.parse(image.properties, container_formats=self.settings.container_formats)
        self._check_limits(image)


def image_document(image: Image) -> dict[str, Any]:
    """What the image schema is checked against: its columns, visibility, tags (sorted) and properties."""
    document: dict[str, Any] = {name: getattr(image, name) for name in _COLUMN_ATTRIBUTES}
    document["visibility"] = image.visibility.value
    document["tags"] = sorted(image.tags)
    document.update(image.properties)
    return document
