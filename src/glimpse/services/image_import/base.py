"""The collaborators every part of the import service uses, and what they share."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from glimpse.data.atrest import AtRest
from glimpse.db import Database
from glimpse.events import NO_EVENTS, Events
from glimpse.policy import Policy
from glimpse.services.images import ImageService
from glimpse.services.remote_glance import RegionCatalog
from glimpse.services.task_queue import TaskQueue
from glimpse.settings import Settings
from glimpse.stores.base import Store
from glimpse.stores.registry import StoreRegistry

METHODS = ("glance-direct", "web-download", "copy-image", "glance-download")


class ImportBase:
    """What the parts of :class:`ImportService` share: its collaborators, the enabled methods, the staged URL."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        policy: Policy,
        images: ImageService,
        stores: StoreRegistry,
        staging: Store,
        open_url: Callable[[str], Awaitable[AsyncIterator[bytes]]],
        check_url: Callable[[str], Awaitable[None]],
        queue: TaskQueue,
    ) -> None:
        self.settings = settings
        self.db = db
        self.policy = policy
        self.images = images
        self.stores = stores
        self.staging = staging
        self.open_url = open_url
        self.check_url = check_url
        self.queue = queue
        self.events: Events = NO_EVENTS  # the container sets it
        self.at_rest = AtRest()  # the stores that encrypt at rest (the container sets it)
        self.regions = RegionCatalog(settings, None)  # the container gives it Keystone's catalog

    @property
    def methods(self) -> list[str]:
        return [
            method
            for method in self.settings.enabled_import_methods
            if method in METHODS and (method != "glance-download" or self.regions.available)
        ]

    def staged_url(self, image_id: str) -> str:
        url_for: Callable[[str], str] = getattr(self.staging, "url_for")  # noqa: B009
        return url_for(image_id)
