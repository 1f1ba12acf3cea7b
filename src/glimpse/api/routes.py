"""The whole URL map in one file. A path answers only its methods: anything else is 405 with Allow."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from glimpse.api import health, metrics, openapi, versions
from glimpse.api.catalog import assets as catalog_assets
from glimpse.api.http import Handler, check_request_text
from glimpse.api.v2 import (
    audit,
    cache,
    discovery,
    image_data,
    image_import,
    images,
    locations,
    members,
    metadefs,
    schemas,
    stores,
    tags,
    tasks,
    webhooks,
)

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"]


class Resource(Route):
    """A path and the handler of each method it answers; any other method gets 405 with ``Allow``."""

    def __init__(self, path: str, handlers: dict[str, Handler]) -> None:
        self.handlers = handlers
        allowed = ", ".join(sorted(handlers))

        async def dispatch(request: Request) -> Response:
            handler = handlers.get(request.method)
            if handler is None and request.method == "HEAD":
                handler = handlers.get("GET")
            if handler is None:
                raise HTTPException(405, headers={"Allow": allowed})
            check_request_text(request)
            return await handler(request)

        super().__init__(path, dispatch, methods=ALL_METHODS, name=path)


def resource(path: str, **handlers: Handler) -> Resource:
    return Resource(path, handlers)


def metadefs_routes() -> list[Resource]:
    md, ns = metadefs, "/v2/metadefs/namespaces/{namespace}"
    return [
        resource("/v2/schemas/metadefs/{name}", GET=md.show_schema),
        resource("/v2/metadefs/namespaces", GET=md.list_namespaces, POST=md.create_namespace),
        resource(ns, GET=md.show_namespace, PUT=md.update_namespace, DELETE=md.delete_namespace),
        resource(f"{ns}/objects", GET=md.list_objects, POST=md.create_object, DELETE=md.delete_objects),
        resource(f"{ns}/objects/{{object_name}}", GET=md.show_object, PUT=md.update_object, DELETE=md.delete_object),
        resource(f"{ns}/properties", GET=md.list_properties, POST=md.create_property, DELETE=md.delete_properties),
        resource(f"{ns}/properties/{{property_name}}", GET=md.show_property, PUT=md.update_property,
                 DELETE=md.delete_property),
        resource(f"{ns}/tags", GET=md.list_tags, POST=md.create_tags, DELETE=md.delete_tags),
        resource(f"{ns}/tags/{{tag_name}}", GET=md.show_tag, POST=md.create_tag, PUT=md.update_tag,
                 DELETE=md.delete_tag),
        resource(f"{ns}/resource_types", GET=md.list_associations, POST=md.create_association),
        resource(f"{ns}/resource_types/{{resource_type}}", DELETE=md.delete_association),
        resource("/v2/metadefs/resource_types", GET=md.list_resource_types, POST=md.create_resource_type),
        resource("/v2/metadefs/resource_types/{resource_type}", DELETE=md.delete_resource_type),
    ]  # fmt: skip


ROUTES = [
    resource("/", GET=versions.root),  # every method lands here (api.versions.negotiate)
    resource("/versions", GET=versions.versions),
    resource("/openapi.json", GET=openapi.show),
    resource("/healthcheck", GET=health.show),
    resource("/metrics", GET=metrics.show),
    resource("/v2/images", GET=images.index, POST=images.create),
    resource("/v2/images/{image_id}", GET=images.show, PATCH=images.update, DELETE=images.delete),
    resource("/v2/images/{image_id}/file", GET=image_data.download, PUT=image_data.upload),
    resource("/v2/images/{image_id}/stage", PUT=image_import.stage),
    resource("/v2/images/{image_id}/import", POST=image_import.start),
    resource("/v2/images/{image_id}/tasks", GET=tasks.for_image),
    resource("/v2/images/{image_id}/locations", GET=locations.index, POST=locations.add),
    resource("/v2/tasks", GET=tasks.index, POST=tasks.create),
    resource("/v2/tasks/{task_id}", GET=tasks.show),
    resource("/v2/info/import", GET=image_import.info),
    resource("/v2/images/{image_id}/actions/deactivate", POST=images.deactivate),
    resource("/v2/images/{image_id}/actions/reactivate", POST=images.reactivate),
    resource("/v2/images/{image_id}/tags/{tag}", PUT=tags.add, DELETE=tags.delete),
    resource("/v2/images/{image_id}/members", GET=members.index, POST=members.create),
    resource("/v2/images/{image_id}/members/{member_id}", GET=members.show, PUT=members.update, DELETE=members.delete),
    resource("/v2/schemas/{name}", GET=schemas.show),
    resource("/v2/info/stores", GET=discovery.stores),
    resource("/v2/info/stores/detail", GET=discovery.stores_detail),
    resource("/v2/info/usage", GET=discovery.usage),
    resource("/v2/stores/{store_id}/{image_id}", DELETE=stores.delete),
    resource("/v2/cache", GET=cache.index, DELETE=cache.clear),
    resource("/v2/cache/clean", POST=cache.clean),
    resource("/v2/cache/prune", POST=cache.prune),
    resource("/v2/cache/nodes/{image_id}", GET=cache.nodes),
    resource("/v2/cache/{image_id}", PUT=cache.queue, DELETE=cache.delete),
    resource("/v2/webhooks", GET=webhooks.index, POST=webhooks.create),
    resource("/v2/webhooks/{webhook_id}", GET=webhooks.show, PATCH=webhooks.update, DELETE=webhooks.delete),
    resource("/v2/webhooks/{webhook_id}/deliveries", GET=webhooks.deliveries),
    resource("/v2/audit", GET=audit.index),
    *metadefs_routes(),
    resource("/catalog/v1/assets", GET=catalog_assets.index),
    resource("/catalog/v1/assets/{name}/{version}", GET=catalog_assets.show),
    resource("/catalog/v1/assets/{name}/{version}/install", POST=catalog_assets.install),
    resource("/catalog/v1/installs/{task_id}", GET=catalog_assets.show_install),
    resource("/catalog/v1/remotes", GET=catalog_assets.remotes),
    resource("/catalog/v1/remotes/refresh", POST=catalog_assets.refresh),
]
