"""A namespace's tags: names only, unique regardless of case."""

from __future__ import annotations

from typing import Any

from glimpse.context import RequestContext
from glimpse.db.repositories.metadefs import MetadefRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.metadefs import TAG_SORT_KEYS, Tag, check_unique_tags, parse_limit, parse_sort
from glimpse.errors import Forbidden, NotFound
from glimpse.events import payloads
from glimpse.services.metadefs import schemas
from glimpse.services.metadefs.base import MetadefBase, namespace_target


def tag_not_found(name: str, namespace: str) -> NotFound:
    return NotFound(f"Could not find metadata tag {name}")


class TagService(MetadefBase):
    async def create(self, ctx: RequestContext, ns_name: str, name: str) -> Tag:
        schemas.validate("tag", {"name": name})
        namespace = await self.load(ctx, ns_name)
        self.enforce(ctx, "add_metadef_tag", namespace)

        def work(session: Any) -> Tag:
            repo = MetadefRepository(session)
            repo.lock_owner(namespace.owner)  # tag names are unique regardless of case: checked, not constrained
            self.check_cap(repo, namespace.owner, 1)
            tag = repo.add_tags(namespace.id, ns_name, [name], utcnow())[0]
            self.events.emit(session, "metadef_tag.create", payloads.metadef_tag(ns_name, tag))
            return tag

        return await self.db.run(work)

    async def create_many(self, ctx: RequestContext, ns_name: str, body: dict[str, Any], append: bool) -> list[Tag]:
        """``POST .../tags``: replace every tag of the namespace with these, or add them with ``append``."""
        schemas.validate("tags", body)
        names = [item["name"] for item in body.get("tags") or []]
        namespace = await self.load(ctx, ns_name)
        self.enforce(ctx, "add_metadef_tags", namespace)
        check_unique_tags(names, ns_name)

        def work(session: Any) -> list[Tag]:
            repo = MetadefRepository(session)
            repo.lock_owner(namespace.owner)
            if not append:
                repo.delete_all(namespace.id, "tags")
            self.check_cap(repo, namespace.owner, len(names))
            if not append:
                self.events.emit(session, "metadef_namespace.delete_tags", payloads.metadef_namespace(namespace))
            added = repo.add_tags(namespace.id, ns_name, names, utcnow())
            for tag in added:
                self.events.emit(session, "metadef_tag.create", payloads.metadef_tag(ns_name, tag))
            return added

        return await self.db.run(work)

    async def index(self, ctx: RequestContext, ns_name: str, params: dict[str, str]) -> list[Tag]:
        sort_key, sort_dir = parse_sort(params.get("sort_key"), params.get("sort_dir"), TAG_SORT_KEYS)
        limit = parse_limit(params.get("limit"), self.settings.api_limit_max, self.settings.api_limit_max)
        marker = params.get("marker")
        namespace = await self.load(ctx, ns_name)
        self.enforce_read(ctx, "get_metadef_tags", namespace)
        if not self.policy.check(ctx, "get_metadef_tag", namespace_target(namespace)):
            return []
        tags = await self.db.run(lambda s: MetadefRepository(s).list_tags(namespace.id, sort_key, sort_dir))
        if marker:
            names = [tag.name for tag in tags]
            if marker not in names:
                raise tag_not_found(marker, ns_name)
            tags = tags[names.index(marker) + 1 :]
        return tags[:limit]

    async def get(self, ctx: RequestContext, ns_name: str, name: str) -> Tag:
        namespace = await self.load(ctx, ns_name)
        self.enforce_read(ctx, "get_metadef_tag", namespace)
        found = await self.db.run(lambda s: MetadefRepository(s).find_tag(namespace.id, name))
        if found is None:
            raise tag_not_found(name, ns_name)
        return found

    async def update(self, ctx: RequestContext, ns_name: str, name: str, body: dict[str, Any]) -> Tag:
        schemas.validate("tag", {k: v for k, v in body.items() if k not in ("created_at", "updated_at")})
        namespace = await self.load(ctx, ns_name)
        self.enforce(ctx, "modify_metadef_tag", namespace)

        def work(session: Any) -> Tag | None:
            repo = MetadefRepository(session)
            repo.lock_owner(namespace.owner)
            renamed = repo.rename_tag(namespace.id, ns_name, name, body["name"], utcnow())
            if renamed is not None:
                payload = payloads.metadef_tag(ns_name, renamed, old_name=name)
                self.events.emit(session, "metadef_tag.update", payload)
            return renamed

        renamed = await self.db.run(work)
        if renamed is None:
            raise tag_not_found(name, ns_name)
        return renamed

    async def delete(self, ctx: RequestContext, ns_name: str, name: str) -> None:
        namespace = await self.load(ctx, ns_name)
        self.enforce(ctx, "delete_metadef_tag", namespace)

        def work(session: Any) -> None:
            repo = MetadefRepository(session)
            tag = repo.find_tag(namespace.id, name)
            if tag is None:
                raise tag_not_found(name, ns_name)
            if namespace.protected:
                raise Forbidden(f"Metadata definition tag {name} is protected and cannot be deleted.")
            repo.delete_tag(namespace.id, name)
            self.events.emit(session, "metadef_tag.delete", payloads.metadef_tag(ns_name, tag, deleted=True))

        await self.db.run(work)
