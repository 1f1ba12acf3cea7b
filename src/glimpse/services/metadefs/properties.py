"""A namespace's property definitions. Read with ``?resource_type=``, a property is named with the prefix
of that resource type's association (``hw_`` on images, ``hw:`` on flavors...)."""

from __future__ import annotations

from typing import Any

from glimpse.context import RequestContext
from glimpse.db.repositories.metadefs import MetadefRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.metadefs import Property
from glimpse.errors import Forbidden, NotFound
from glimpse.events import payloads
from glimpse.services.metadefs import schemas
from glimpse.services.metadefs.base import MetadefBase
from glimpse.services.metadefs.namespaces import check_read_only


def _from_body(body: dict[str, Any]) -> Property:
    check_read_only(body)
    schemas.validate("property", body)
    return Property(name=body["name"], schema=dict(body))  # Glance keeps the name in the definition too


class PropertyService(MetadefBase):
    async def create(self, ctx: RequestContext, ns_name: str, body: dict[str, Any]) -> Property:
        prop = _from_body(body)
        namespace = await self.load(ctx, ns_name)
        self.enforce(ctx, "add_metadef_property", namespace)

        def work(session: Any) -> Property:
            repo = MetadefRepository(session)
            self.check_cap(repo, namespace.owner, 1)
            saved = repo.save_property(namespace.id, ns_name, prop, replacing=None, now=utcnow())
            self.events.emit(session, "metadef_property.create", payloads.metadef_property(ns_name, saved))
            return saved

        return await self.db.run(work)

    async def index(self, ctx: RequestContext, ns_name: str) -> dict[str, Any]:
        """Every property definition by name (unprefixed: Glance's list ignores ``resource_type``)."""
        namespace = await self.load(ctx, ns_name)
        self.enforce_read(ctx, "get_metadef_properties", namespace)
        found = await self.db.run(lambda s: MetadefRepository(s).list_properties(namespace.id))
        return {prop.name: prop.schema for prop in found}

    async def get(self, ctx: RequestContext, ns_name: str, name: str, resource_type: str | None) -> Property:
        namespace = await self.load(ctx, ns_name)
        self.enforce_read(ctx, "get_metadef_property", namespace)
        stored = name
        if resource_type:
            self.enforce(ctx, "get_metadef_resource_type", namespace)
            association = next((a for a in namespace.associations if a.name == resource_type), None)
            if association is None:
                raise NotFound(
                    f"The metadata definition resource-type association of resource-type={resource_type} to "
                    f"namespace={ns_name}, was not found."
                )
            prefix = association.prefix
            if not prefix or not name.startswith(prefix):
                raise NotFound(
                    f"Property {name} does not start with the expected resource type association prefix of '{prefix}'."
                )
            stored = name[len(prefix) :]
        found = await self.db.run(lambda s: MetadefRepository(s).find_property(namespace.id, stored))
        if found is None:
            raise NotFound(f"Could not find property {stored}")
        return found

    async def update(self, ctx: RequestContext, ns_name: str, name: str, body: dict[str, Any]) -> Property:
        prop = _from_body(body)
        namespace = await self.load(ctx, ns_name)
        self.enforce(ctx, "modify_metadef_property", namespace)

        def work(session: Any) -> Property:
            repo = MetadefRepository(session)
            if repo.find_property(namespace.id, name) is None:
                raise NotFound(f"Could not find property {name}")
            saved = repo.save_property(namespace.id, ns_name, prop, replacing=name, now=utcnow())
            payload = payloads.metadef_property(ns_name, saved, old_name=name)
            self.events.emit(session, "metadef_property.update", payload)
            return saved

        return await self.db.run(work)

    async def delete(self, ctx: RequestContext, ns_name: str, name: str) -> None:
        namespace = await self.load(ctx, ns_name)
        self.enforce(ctx, "remove_metadef_property", namespace)

        def work(session: Any) -> None:
            repo = MetadefRepository(session)
            found = repo.find_property(namespace.id, name)
            if found is None:
                raise NotFound(f"Could not find property {name}")
            if namespace.protected:
                raise Forbidden(f"Metadata definition property {name} is protected and cannot be deleted.")
            repo.delete_property(namespace.id, name)
            payload = payloads.metadef_property(ns_name, found, deleted=True)
            self.events.emit(session, "metadef_property.delete", payload)

        await self.db.run(work)
