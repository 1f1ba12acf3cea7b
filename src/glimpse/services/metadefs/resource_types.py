"""Resource types and a namespace's associations with them. Creating and deleting a resource type itself
is a Glimpse extension (admin-only); Glance only creates them as a side effect of an association."""

from __future__ import annotations

import logging
from typing import Any

from glimpse.context import RequestContext
from glimpse.db.repositories.metadefs import MetadefRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.metadefs import Association, ResourceType
from glimpse.errors import BadRequest, Conflict, Forbidden, NotFound
from glimpse.events import payloads
from glimpse.services.metadefs import schemas
from glimpse.services.metadefs.base import MetadefBase
from glimpse.services.metadefs.namespaces import check_read_only

log = logging.getLogger(__name__)

STANDARD_RESOURCE_TYPES = (
    "OS::Glance::Image",
    "OS::Cinder::Volume",
    "OS::Nova::Flavor",
    "OS::Nova::Aggregate",
    "OS::Nova::Server",
)
"""Present in every database (migration 0004 seeds them, :meth:`ResourceTypeService.seed` restores them)."""


class ResourceTypeService(MetadefBase):
    async def seed(self) -> int:
        """Create the standard resource types that are missing; idempotent. How many were created.

        Best effort at start: a database that cannot answer yet must not keep the server from starting
        (it answers 503 until the database is back, and migration 0004 seeded the same types anyway)."""
        try:
            return await self._seed()
        except Exception as exc:
            log.warning("could not seed the standard metadef resource types: %s", exc)
            return 0

    async def _seed(self) -> int:
        return await self.db.run(
            lambda s: MetadefRepository(s).ensure_resource_types(STANDARD_RESOURCE_TYPES, utcnow())
        )

    async def index(self, ctx: RequestContext) -> list[ResourceType]:
        self.enforce(ctx, "list_metadef_resource_types")
        return await self.db.run(lambda s: MetadefRepository(s).list_resource_types())

    async def create(self, ctx: RequestContext, body: dict[str, Any]) -> ResourceType:
        """Extension: ``POST /v2/metadefs/resource_types`` ``{"name": ..., "protected": false}``."""
        check_read_only(body)
        name = body.get("name")
        if not isinstance(name, str) or not name or len(name) > 80:
            raise BadRequest("A resource type needs a name of 1 to 80 characters")
        protected = body.get("protected", False)
        if not isinstance(protected, bool):
            raise BadRequest("'protected' must be a boolean")
        unknown = set(body) - {"name", "protected"}
        if unknown:
            raise BadRequest(f"Unknown attributes for a resource type: {', '.join(sorted(unknown))}")
        self.enforce(ctx, "add_metadef_resource_type")
        return await self.db.run(lambda s: MetadefRepository(s).add_resource_type(name, protected, utcnow()))

    async def delete(self, ctx: RequestContext, name: str) -> None:
        """Extension: ``DELETE /v2/metadefs/resource_types/{name}``; protected and associated types stay."""
        self.enforce(ctx, "delete_metadef_resource_type")

        def work(session: Any) -> None:
            repo = MetadefRepository(session)
            found = repo.find_resource_type(name)
            if found is None:
                raise NotFound(f"The metadata definition resource-type with name={name}, was not found.")
            if found.protected:
                raise Forbidden(
                    f"Metadata definition resource-type {name} is a seeded-system type and cannot be deleted."
                )
            if repo.resource_type_in_use(name):
                raise Conflict(
                    f"The metadata definition resource-type with name={name} not deleted. "
                    "Other records still refer to it."
                )
            repo.delete_resource_type(name)

        await self.db.run(work)

    async def associations(self, ctx: RequestContext, ns_name: str) -> list[Association]:
        namespace = await self.load(ctx, ns_name)
        self.enforce_read(ctx, "get_metadef_resource_type", namespace)
        return namespace.associations

    async def associate(self, ctx: RequestContext, ns_name: str, body: dict[str, Any]) -> Association:
        check_read_only(body)
        schemas.validate("resource_type", body)
        association = Association(
            name=body["name"], prefix=body.get("prefix"), properties_target=body.get("properties_target")
        )
        namespace = await self.load(ctx, ns_name)
        self.enforce(ctx, "add_metadef_resource_type_association", namespace)

        def work(session: Any) -> Association:
            linked = MetadefRepository(session).add_association(namespace.id, ns_name, association, utcnow())
            self.events.emit(session, "metadef_resource_type.create", payloads.metadef_resource_type(ns_name, linked))
            return linked

        return await self.db.run(work)

    async def dissociate(self, ctx: RequestContext, ns_name: str, name: str) -> None:
        namespace = await self.load(ctx, ns_name)
        self.enforce(ctx, "remove_metadef_resource_type_association", namespace)
        if not any(a.name == name for a in namespace.associations):
            raise NotFound(f"Failed to find resource type {name} to delete")
        if namespace.protected:
            raise Forbidden(f"Metadata definition resource-type-association {name} is protected and cannot be deleted.")
        linked = next(a for a in namespace.associations if a.name == name)

        def work(session: Any) -> None:
            MetadefRepository(session).delete_association(namespace.id, name)
            payload = payloads.metadef_resource_type(ns_name, linked, deleted=True)
            self.events.emit(session, "metadef_resource_type.delete", payload)

        await self.db.run(work)
