"""build_services(settings): the one place objects are wired together. No globals, no DI framework."""

from __future__ import annotations

from dataclasses import dataclass

from glimpse.auth import Authenticator, build_authenticator
from glimpse.db import Database
from glimpse.policy import Policy
from glimpse.services.image_data import ImageDataService
from glimpse.services.images import ImageService
from glimpse.services.members import MemberService
from glimpse.services.schemas import Schemas
from glimpse.services.stores import StoreService
from glimpse.services.tags import TagService
from glimpse.settings import Settings
from glimpse.stores.registry import StoreRegistry, build_registry


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    db: Database
    stores: StoreRegistry
    policy: Policy
    schemas: Schemas
    auth: Authenticator
    images: ImageService
    image_data: ImageDataService
    members: MemberService
    tags: TagService
    store_info: StoreService

    def close(self) -> None:
        self.db.dispose()


def build_services(
    settings: Settings,
    *,
    db: Database | None = None,
    stores: StoreRegistry | None = None,
    auth: Authenticator | None = None,
    policy: Policy | None = None,
) -> Services:
    db = db or Database(settings.database_url)
    stores = stores or build_registry(settings)
    policy = policy or Policy()
    schemas = Schemas(settings)
    images = ImageService(settings, db, policy, schemas, stores)
    return Services(
        settings=settings,
        db=db,
        stores=stores,
        policy=policy,
        schemas=schemas,
        auth=auth or build_authenticator(settings),
        images=images,
        image_data=ImageDataService(settings, db, policy, images, stores),
        members=MemberService(settings, db, policy, images),
        tags=TagService(settings, db, policy),
        store_info=StoreService(db, policy, stores),
    )
