"""The collaborators every part of the image data service uses."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from glimpse.data.atrest import AtRest
from glimpse.db import Database
from glimpse.events import NO_EVENTS, Events
from glimpse.metrics import Metrics
from glimpse.policy import Policy
from glimpse.services.images import ImageService
from glimpse.settings import Settings
from glimpse.stores.registry import StoreRegistry

if TYPE_CHECKING:
    from glimpse.services.cache import NodeCache


class ImageDataBase:
    """What the parts of :class:`ImageDataService` share: its collaborators."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        policy: Policy,
        images: ImageService,
        stores: StoreRegistry,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.policy = policy
        self.images = images
        self.stores = stores
        self.metrics = metrics or Metrics(store.id for store in stores)
        self._background: set[asyncio.Task[None]] = set()
        self.cache: NodeCache | None = None  # this node's image cache, when it is on (set by the container)
        self.events: Events = NO_EVENTS  # the container sets it
        self.at_rest = AtRest()  # the stores that encrypt at rest (the container sets it)
