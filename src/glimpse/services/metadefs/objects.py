"""A namespace's objects: named groups of property definitions (with the names an object requires)."""

from __future__ import annotations

from typing import Any

from glimpse.context import RequestContext
from glimpse.db.repositories.metadefs import MetadefRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.metadefs import OBJECT_SORT_KEYS, MetadefObject, parse_sort
from glimpse.errors import Forbidden, NotFound
from glimpse.events import payloads
from glimpse.services.metadefs import schemas
from glimpse.services.metadefs.base import MetadefBase, namespace_missing, namespace_target
from glimpse.services.metadefs.namespaces import check_read_only


def _from_body(body: dict[str, Any]) -> MetadefObject:
    check_read_only(body)
    schemas.validate("object", body)
    now = utcnow()
    return MetadefObject(
        name=body["name"],
        description=body.get("description"),
        required=body.get("required"),
        properties=dict(body.get("properties") or {}),
        created_at=now,
        updated_at=now,
    )


class ObjectService(MetadefBase):
    async def create(self, ctx: RequestContext, ns_name: str, body: dict[str, Any]) -> MetadefObject:
        obj = _from_body(body)
        namespace = await self.load(ctx, ns_name, missing=namespace_missing(ns_name))
        self.enforce(ctx, "add_metadef_object", namespace)

        def work(session: Any) -> MetadefObject:
            repo = MetadefRepository(session)
            self.check_cap(repo, namespace.owner, 1)
            saved = repo.save_object(namespace.id, ns_name, obj, replacing=None, now=obj.created_at)
            self.events.emit(session, "metadef_object.create", payloads.metadef_object(ns_name, saved))
            return saved

        return await self.db.run(work)

    async def index(self, ctx: RequestContext, ns_name: str, params: dict[str, str]) -> list[MetadefObject]:
        # oldest first unless asked otherwise, as Glance lists them
        sort_key, sort_dir = parse_sort(params.get("sort_key"), params.get("sort_dir") or "asc", OBJECT_SORT_KEYS)
        namespace = await self.load(ctx, ns_name, missing=namespace_missing(ns_name))
        self.enforce_read(ctx, "get_metadef_objects", namespace)
        if not self.policy.check(ctx, "get_metadef_object", namespace_target(namespace)):
            return []
        return await self.db.run(lambda s: MetadefRepository(s).list_objects(namespace.id, sort_key, sort_dir))

    async def get(self, ctx: RequestContext, ns_name: str, name: str) -> MetadefObject:
        namespace = await self.load(ctx, ns_name, missing=namespace_missing(ns_name))
        self.enforce_read(ctx, "get_metadef_object", namespace)
        found = await self.db.run(lambda s: MetadefRepository(s).find_object(namespace.id, name))
        if found is None:
            raise NotFound(f"Could not find metadata object {name}")
        return found

    async def update(self, ctx: RequestContext, ns_name: str, name: str, body: dict[str, Any]) -> MetadefObject:
        obj = _from_body(body)
        namespace = await self.load(ctx, ns_name, missing=namespace_missing(ns_name))
        self.enforce(ctx, "modify_metadef_object", namespace)

        def work(session: Any) -> MetadefObject:
            repo = MetadefRepository(session)
            if repo.find_object(namespace.id, name) is None:
                raise NotFound(f"Could not find metadata object {name}")
            saved = repo.save_object(namespace.id, ns_name, obj, replacing=name, now=obj.created_at)
            payload = payloads.metadef_object(ns_name, saved, old_name=name)
            self.events.emit(session, "metadef_object.update", payload)
            return saved

        return await self.db.run(work)

    async def delete(self, ctx: RequestContext, ns_name: str, name: str) -> None:
        namespace = await self.load(ctx, ns_name, missing=namespace_missing(ns_name))
        self.enforce(ctx, "delete_metadef_object", namespace)

        def work(session: Any) -> None:
            repo = MetadefRepository(session)
            found = repo.find_object(namespace.id, name)
            if found is None:
                raise NotFound(f"Could not find metadata object {name}")
            if namespace.protected:
                raise Forbidden(f"Metadata definition object {name} is protected and cannot be deleted.")
            repo.delete_object(namespace.id, name)
            payload = payloads.metadef_object(ns_name, found, deleted=True)
            self.events.emit(session, "metadef_object.delete", payload)

        await self.db.run(work)
