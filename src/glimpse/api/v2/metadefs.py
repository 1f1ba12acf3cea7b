"""/v2/metadefs/* and /v2/schemas/metadefs/*: metadata definitions. Parse, one service call, serialize."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from glimpse.api.http import Handler, context, json_object, json_response, no_content, services
from glimpse.context import RequestContext
from glimpse.domain.clock import isoformat
from glimpse.domain.metadefs import Association, MetadefObject, Namespace, Property, ResourceType, Tag
from glimpse.errors import NotFound
from glimpse.services.metadefs import Metadefs
from glimpse.services.metadefs import schemas as metadef_schemas
from glimpse.services.metadefs.namespaces import NamespaceDetail

BASE = "/v2/metadefs/namespaces"
TRUE_STRINGS = ("1", "t", "true", "on", "y", "yes")

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


def _href(*parts: str) -> str:
    return "/".join([BASE, *(quote(part, safe=":") for part in parts)])


def _dates(value: Any) -> dict[str, str]:
    out = {}
    for key in ("created_at", "updated_at"):
        stamp = getattr(value, key, None)
        if stamp is not None:
            out[key] = isoformat(stamp)
    return out


def _compact(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


def association_view(association: Association) -> dict[str, Any]:
    return _compact(
        {"name": association.name, "prefix": association.prefix,
         "properties_target": association.properties_target, **_dates(association)}
    )  # fmt: skip


def namespace_view(
    namespace: Namespace, detail: NamespaceDetail | None = None, *, associations: bool = True, echo: bool = False
) -> dict[str, Any]:
    """A namespace; with ``detail`` what it holds. ``echo``: objects as the create request gave them (Glance
    answers a create with its request's objects); ``associations``: False on a replace, as Glance."""
    view = _compact(
        {
            "namespace": namespace.namespace,
            "display_name": namespace.display_name,
            "description": namespace.description,
            "visibility": namespace.visibility,
            "protected": namespace.protected,
            "owner": namespace.owner,
            **_dates(namespace),
            "self": _href(namespace.namespace),
            "schema": "/v2/schemas/metadefs/namespace",
        }
    )
    if namespace.associations and associations:
        view["resource_type_associations"] = [association_view(a) for a in namespace.associations]
    if detail is not None:
        if detail.objects and echo:
            view["objects"] = [_compact({"name": obj.name, "description": obj.description, "required": obj.required,
                                         "properties": obj.properties or None}) for obj in detail.objects]  # fmt: skip
        elif detail.objects:
            view["objects"] = [object_view(namespace.namespace, obj) for obj in detail.objects]
        if detail.properties:
            view["properties"] = detail.properties
        if detail.tags:
            view["tags"] = [{"name": name} for name in detail.tags]
    return view


def object_view(namespace: str, obj: MetadefObject, *, written: bool = False) -> dict[str, Any]:
    """An object as read: ``properties`` and ``required`` always there (empty when none); as ``written`` (the
    answer to a create or a replace), only what the request gave, as Glance answers."""
    return _compact(
        {
            "name": obj.name,
            "description": obj.description,
            "required": obj.required if written else (obj.required or []),
            "properties": (obj.properties or None) if written else obj.properties,
            **_dates(obj),
            "self": _href(namespace, "objects", obj.name),
            "schema": "/v2/schemas/metadefs/object",
        }
    )


def property_view(prop: Property) -> dict[str, Any]:
    return {**prop.schema, "name": prop.name}


def tag_view(tag: Tag) -> dict[str, Any]:
    return {"name": tag.name, **_dates(tag)}


def resource_type_view(rtype: ResourceType) -> dict[str, Any]:
    return {"name": rtype.name, **_dates(rtype)}


def _query(request: Request) -> dict[str, str]:
    return dict(request.query_params)


# -- namespaces -------------------------------------------------------------------------------------------
async def list_namespaces(request: Request) -> Response:
    params = _query(request)
    page = await services(request).metadefs.namespaces.index(context(request), params)
    links = {k: v for k, v in request.query_params.multi_items() if k != "marker"}
    first = BASE + (f"?{urlencode(links)}" if links else "")
    body: dict[str, Any] = {
        "namespaces": [namespace_view(ns) for ns in page.namespaces],
        "first": first,
        "schema": "/v2/schemas/metadefs/namespaces",
    }
    if page.next_marker is not None:
        body["next"] = f"{BASE}?{urlencode({**links, 'marker': page.next_marker})}"
    return json_response(body)


async def create_namespace(request: Request) -> Response:
    body = await json_object(request)
    detail = await services(request).metadefs.namespaces.create(context(request), body)
    view = namespace_view(detail.namespace, detail, echo=True)
    return json_response(view, 201, headers={"Location": str(request.base_url).rstrip("/") + view["self"]})


async def show_namespace(request: Request) -> Response:
    detail = await services(request).metadefs.namespaces.show(
        context(request), request.path_params["namespace"], request.query_params.get("resource_type")
    )
    return json_response(namespace_view(detail.namespace, detail))


async def update_namespace(request: Request) -> Response:
    body = await json_object(request)
    namespace = await services(request).metadefs.namespaces.update(
        context(request), request.path_params["namespace"], body
    )
    return json_response(namespace_view(namespace, associations=False))


async def delete_namespace(request: Request) -> Response:
    await services(request).metadefs.namespaces.delete(context(request), request.path_params["namespace"])
    return no_content()


def _delete_all(kind: str) -> Any:
    async def handler(request: Request) -> Response:
        await services(request).metadefs.namespaces.delete_all(context(request), request.path_params["namespace"], kind)
        return no_content()

    return handler


delete_objects = _delete_all("objects")
delete_properties = _delete_all("properties")
delete_tags = _delete_all("tags")


# -- what objects, properties and tags share: one of a namespace's members, named in the path -----------------
class _Members(Protocol[T_co]):
    async def update(self, ctx: RequestContext, ns_name: str, name: str, body: dict[str, Any]) -> T_co: ...

    async def delete(self, ctx: RequestContext, ns_name: str, name: str) -> None: ...


def _update_member(
    members: Callable[[Metadefs], _Members[T]], param: str, view: Callable[[T], dict[str, Any]]
) -> Handler:
    """PUT of the member named by the path parameter ``param``, answered with its ``view``."""

    async def handler(request: Request) -> Response:
        body = await json_object(request)
        item = await members(services(request).metadefs).update(
            context(request), request.path_params["namespace"], request.path_params[param], body
        )
        return json_response(view(item))

    return handler


def _delete_member(members: Callable[[Metadefs], _Members[object]], param: str) -> Handler:
    """DELETE of the member named by the path parameter ``param``."""

    async def handler(request: Request) -> Response:
        await members(services(request).metadefs).delete(
            context(request), request.path_params["namespace"], request.path_params[param]
        )
        return no_content()

    return handler


# -- objects ----------------------------------------------------------------------------------------------
async def list_objects(request: Request) -> Response:
    namespace = request.path_params["namespace"]
    objects = await services(request).metadefs.objects.index(context(request), namespace, _query(request))
    return json_response(
        {"objects": [object_view(namespace, obj) for obj in objects], "schema": "v2/schemas/metadefs/objects"}
    )


async def create_object(request: Request) -> Response:
    namespace = request.path_params["namespace"]
    body = await json_object(request)
    obj = await services(request).metadefs.objects.create(context(request), namespace, body)
    return json_response(object_view(namespace, obj, written=True), 201)


async def show_object(request: Request) -> Response:
    namespace = request.path_params["namespace"]
    obj = await services(request).metadefs.objects.get(context(request), namespace, request.path_params["object_name"])
    return json_response(object_view(namespace, obj))


async def update_object(request: Request) -> Response:
    namespace = request.path_params["namespace"]
    body = await json_object(request)
    obj = await services(request).metadefs.objects.update(
        context(request), namespace, request.path_params["object_name"], body
    )
    return json_response(object_view(namespace, obj, written=True))


delete_object = _delete_member(lambda metadefs: metadefs.objects, "object_name")


# -- properties -------------------------------------------------------------------------------------------
async def list_properties(request: Request) -> Response:
    properties = await services(request).metadefs.properties.index(context(request), request.path_params["namespace"])
    return json_response({"properties": properties})


async def create_property(request: Request) -> Response:
    body = await json_object(request)
    prop = await services(request).metadefs.properties.create(context(request), request.path_params["namespace"], body)
    return json_response(property_view(prop), 201)


async def show_property(request: Request) -> Response:
    prop = await services(request).metadefs.properties.get(
        context(request),
        request.path_params["namespace"],
        request.path_params["property_name"],
        request.query_params.get("resource_type"),
    )
    return json_response(property_view(prop))


update_property = _update_member(lambda metadefs: metadefs.properties, "property_name", property_view)
delete_property = _delete_member(lambda metadefs: metadefs.properties, "property_name")


# -- tags -------------------------------------------------------------------------------------------------
async def list_tags(request: Request) -> Response:
    tags = await services(request).metadefs.tags.index(
        context(request), request.path_params["namespace"], _query(request)
    )
    return json_response({"tags": [tag_view(tag) for tag in tags]})


async def create_tags(request: Request) -> Response:
    body = await json_object(request)
    append = request.headers.get("x-openstack-append", "").strip().lower() in TRUE_STRINGS
    tags = await services(request).metadefs.tags.create_many(
        context(request), request.path_params["namespace"], body, append
    )
    return json_response({"tags": [{"name": tag.name} for tag in tags]}, 201)


async def create_tag(request: Request) -> Response:
    tag = await services(request).metadefs.tags.create(
        context(request), request.path_params["namespace"], request.path_params["tag_name"]
    )
    return json_response(tag_view(tag), 201)


async def show_tag(request: Request) -> Response:
    tag = await services(request).metadefs.tags.get(
        context(request), request.path_params["namespace"], request.path_params["tag_name"]
    )
    return json_response(tag_view(tag))


update_tag = _update_member(lambda metadefs: metadefs.tags, "tag_name", tag_view)
delete_tag = _delete_member(lambda metadefs: metadefs.tags, "tag_name")


# -- resource types ---------------------------------------------------------------------------------------
async def list_resource_types(request: Request) -> Response:
    found = await services(request).metadefs.resource_types.index(context(request))
    return json_response({"resource_types": [resource_type_view(r) for r in found]})


async def create_resource_type(request: Request) -> Response:
    body = await json_object(request)
    created = await services(request).metadefs.resource_types.create(context(request), body)
    return json_response(resource_type_view(created), 201)


async def delete_resource_type(request: Request) -> Response:
    await services(request).metadefs.resource_types.delete(context(request), request.path_params["resource_type"])
    return no_content()


async def list_associations(request: Request) -> Response:
    found = await services(request).metadefs.resource_types.associations(
        context(request), request.path_params["namespace"]
    )
    return json_response({"resource_type_associations": [association_view(a) for a in found]})


async def create_association(request: Request) -> Response:
    body = await json_object(request)
    created = await services(request).metadefs.resource_types.associate(
        context(request), request.path_params["namespace"], body
    )
    return json_response(association_view(created), 201)


async def delete_association(request: Request) -> Response:
    await services(request).metadefs.resource_types.dissociate(
        context(request), request.path_params["namespace"], request.path_params["resource_type"]
    )
    return no_content()


# -- schemas ----------------------------------------------------------------------------------------------
async def show_schema(request: Request) -> Response:
    name = request.path_params["name"]
    schema = metadef_schemas.served().get(name)
    if schema is None:
        raise NotFound("The resource could not be found.")
    return json_response(schema)
