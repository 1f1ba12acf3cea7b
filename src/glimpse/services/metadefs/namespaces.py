"""Namespaces: create (with everything they hold, in one transaction), list, show, replace, delete, and
the delete-all of a namespace's objects, properties or tags."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from glimpse.context import RequestContext
from glimpse.db.repositories.metadefs import MetadefRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.metadefs import (
    NAMESPACE_SORT_KEYS,
    Association,
    MetadefObject,
    Namespace,
    Property,
    check_unique_tags,
    parse_limit,
    parse_resource_types,
    parse_sort,
    parse_visibility,
    prefixed,
    prefixed_object,
)
from glimpse.errors import BadRequest, Forbidden, NotFound
from glimpse.events import payloads
from glimpse.services.metadefs import schemas
from glimpse.services.metadefs.base import MetadefBase, namespace_missing, namespace_target

READ_ONLY = ("self", "schema", "created_at", "updated_at")


@dataclass(frozen=True, slots=True)
class NamespaceDetail:
    namespace: Namespace
    objects: list[MetadefObject] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class NamespacePage:
    namespaces: list[Namespace]
    next_marker: str | None


def check_read_only(body: dict[str, Any]) -> None:
    for key in READ_ONLY:
        if key in body:
            raise Forbidden(f"Attribute '{key}' is read-only.")


class NamespaceService(MetadefBase):
    async def create(self, ctx: RequestContext, body: dict[str, Any]) -> NamespaceDetail:
        check_read_only(body)
        schemas.validate("namespace", body)
        self.enforce(ctx, "add_metadef_namespace")
        associations = [_association(item) for item in body.get("resource_type_associations") or []]
        objects = body.get("objects") or []
        properties: dict[str, Any] = body.get("properties") or {}
        tags = [str(item.get("name", "")) for item in body.get("tags") or []]
        for rule, present in (
            ("add_metadef_resource_type_association", associations),
            ("add_metadef_object", objects),
            ("add_metadef_property", properties),
            ("add_metadef_tag", tags),
        ):
            if present:
                self.enforce(ctx, rule)
        values = _namespace_values(body, ctx)
        name = values["namespace"]
        if any(not tag for tag in tags):
            raise BadRequest("Couldn't create metadata namespace: a tag needs a name")
        check_unique_tags(tags, name)
        now = utcnow()
        made_objects = [_object(item, now) for item in objects]

        def work(session: Any) -> NamespaceDetail:
            repo = MetadefRepository(session)
            created = repo.add_namespace(values, now)
            self.check_cap(repo, created.owner, len(made_objects) + len(properties) + len(tags))
            linked = [repo.add_association(created.id, name, association, now) for association in associations]
            saved = [repo.save_object(created.id, name, obj, replacing=None, now=now) for obj in made_objects]
            for prop_name, definition in properties.items():
                repo.save_property(created.id, name, Property(prop_name, dict(definition)), replacing=None, now=now)
            if tags:
                repo.add_tags(created.id, name, tags, now)
            self.events.emit(session, "metadef_namespace.create", payloads.metadef_namespace(created))
            return NamespaceDetail(created.with_associations(linked), saved, dict(properties), tags)

        return await self.db.run(work)

    async def index(self, ctx: RequestContext, params: dict[str, str]) -> NamespacePage:
        self.enforce(ctx, "get_metadef_namespaces")
        self.enforce(ctx, "list_metadef_resource_types")
        sort_key, sort_dir = parse_sort(params.get("sort_key"), params.get("sort_dir"), NAMESPACE_SORT_KEYS)
        limit = parse_limit(params.get("limit"), self.settings.limit_param_default, self.settings.api_limit_max)
        visibility = parse_visibility(params.get("visibility"))
        resource_types = parse_resource_types(params.get("resource_types"))
        is_admin = self.is_admin(ctx)
        marker_name = params.get("marker")

        def work(session: Any) -> list[Namespace]:
            repo = MetadefRepository(session)
            marker = None
            if marker_name:
                marker = repo.find_namespace(marker_name)
                if marker is None or not marker.visible_to(ctx.project_id, is_admin):
                    raise NotFound(f"Metadata definition namespace={marker_name} was not found.")
            return repo.list_namespaces(
                project_id=ctx.project_id,
                is_admin=is_admin,
                visibility=visibility,
                resource_types=resource_types,
                sort_key=sort_key,
                sort_dir=sort_dir,
                limit=limit,
                marker=marker,
            )

        found = await self.db.run(work)
        shown = [ns for ns in found if self.policy.check(ctx, "get_metadef_namespace", namespace_target(ns))]
        next_marker = found[-1].namespace if found and len(found) == limit else None
        return NamespacePage(shown, next_marker)

    async def show(self, ctx: RequestContext, name: str, resource_type: str | None) -> NamespaceDetail:
        namespace = await self.load(
            ctx, name, missing=namespace_missing(name), hidden="The resource could not be found."
        )
        if not self.policy.check(ctx, "get_metadef_namespace", namespace_target(namespace)):
            raise NotFound("The resource could not be found.")
        for rule in (
            "list_metadef_resource_types",
            "get_metadef_objects",
            "get_metadef_properties",
            "get_metadef_tags",
        ):
            self.enforce(ctx, rule, namespace)  # fmt: skip

        def work(session: Any) -> NamespaceDetail:
            repo = MetadefRepository(session)
            objects = repo.list_objects(namespace.id, "created_at", "asc")
            properties = {p.name: p.schema for p in repo.list_properties(namespace.id)}
            tags = [tag.name for tag in repo.list_tags(namespace.id, "created_at", "asc")]
            return NamespaceDetail(namespace, objects, properties, tags)

        detail = await self.db.run(work)
        prefix = namespace.prefix_for(resource_type)
        if not prefix:
            return detail
        return NamespaceDetail(
            namespace,
            [prefixed_object(obj, prefix) for obj in detail.objects],
            prefixed(detail.properties, prefix),
            detail.tags,
        )

    async def update(self, ctx: RequestContext, name: str, body: dict[str, Any]) -> Namespace:
        check_read_only(body)
        schemas.validate("namespace", body)
        namespace = await self.load(ctx, name)
        self.enforce(ctx, "modify_metadef_namespace", namespace)
        for key in ("resource_type_associations", "objects", "properties", "tags"):
            body.pop(key, None)  # as Glance: a replace changes the namespace's own fields only
        values = _namespace_values(body, ctx)

        def work(session: Any) -> Namespace:
            updated = MetadefRepository(session).update_namespace(namespace.id, values, utcnow())
            payload = payloads.metadef_namespace(updated, old_name=name)
            self.events.emit(session, "metadef_namespace.update", payload)
            return updated

        return await self.db.run(work)

    async def delete(self, ctx: RequestContext, name: str) -> None:
        namespace = await self.load(ctx, name)
        self.enforce(ctx, "delete_metadef_namespace", namespace)
        _refuse_protected(namespace)

        def work(session: Any) -> None:
            MetadefRepository(session).delete_namespace(namespace.id)
            payload = payloads.metadef_namespace(namespace, deleted=True)
            self.events.emit(session, "metadef_namespace.delete", payload)

        await self.db.run(work)

    async def delete_all(self, ctx: RequestContext, name: str, kind: str) -> None:
        """``DELETE .../objects``, ``.../properties`` or ``.../tags``: Glance guards these with
        ``delete_metadef_namespace`` (and tags with ``delete_metadef_tags`` too), and a protected namespace
        keeps what it holds."""
        namespace = await self.load(ctx, name)
        self.enforce(ctx, "delete_metadef_namespace", namespace)
        if kind == "tags":
            self.enforce(ctx, "delete_metadef_tags", namespace)
        _refuse_protected(namespace)

        def work(session: Any) -> None:
            MetadefRepository(session).delete_all(namespace.id, kind)
            payload = payloads.metadef_namespace(namespace)
            self.events.emit(session, f"metadef_namespace.delete_{kind}", payload)

        await self.db.run(work)


def _refuse_protected(namespace: Namespace) -> None:
    if namespace.protected:
        raise Forbidden(f"Metadata definition namespace {namespace.namespace} is protected and cannot be deleted.")


def _namespace_values(body: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    """The namespace's own fields; those left out take their defaults, on create and on replace alike."""
    name = body.get("namespace")
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("Couldn't create metadata namespace: namespace name must not be empty")
    owner = body.get("owner") or ctx.project_id
    if not owner:
        raise BadRequest("Couldn't create metadata namespace: the namespace needs an owner")
    return {
        "namespace": name,
        "display_name": body.get("display_name"),
        "description": body.get("description"),
        "visibility": body.get("visibility") or "private",
        "protected": bool(body.get("protected") or False),
        "owner": owner,
    }


def _association(item: dict[str, Any]) -> Association:
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise BadRequest("Couldn't create metadata namespace: a resource type association needs a name")
    return Association(name=name, prefix=item.get("prefix"), properties_target=item.get("properties_target"))


def _object(item: dict[str, Any], now: Any) -> MetadefObject:
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise BadRequest("Couldn't create metadata namespace: an object needs a name")
    return MetadefObject(
        name=name,
        description=item.get("description"),
        required=item.get("required"),
        properties=dict(item.get("properties") or {}),
        created_at=now,
        updated_at=now,
    )
