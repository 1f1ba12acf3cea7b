"""Metadata definitions (the Images API's metadefs): one service per resource, held by :class:`Metadefs`."""

from __future__ import annotations

from dataclasses import dataclass

from glimpse.db import Database
from glimpse.policy import Policy
from glimpse.services.metadefs.namespaces import NamespaceService
from glimpse.services.metadefs.objects import ObjectService
from glimpse.services.metadefs.properties import PropertyService
from glimpse.services.metadefs.resource_types import ResourceTypeService
from glimpse.services.metadefs.tags import TagService
from glimpse.settings import Settings


@dataclass(frozen=True, slots=True)
class Metadefs:
    namespaces: NamespaceService
    objects: ObjectService
    properties: PropertyService
    tags: TagService
    resource_types: ResourceTypeService

    @classmethod
    def build(cls, settings: Settings, db: Database, policy: Policy) -> Metadefs:
        return cls(
            namespaces=NamespaceService(settings, db, policy),
            objects=ObjectService(settings, db, policy),
            properties=PropertyService(settings, db, policy),
            tags=TagService(settings, db, policy),
            resource_types=ResourceTypeService(settings, db, policy),
        )
