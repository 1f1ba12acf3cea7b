"""/v2/images: create, list, show, update, delete and the deactivate/reactivate actions."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from glimpse.api.http import (
    context,
    json_body,
    json_object,
    json_response,
    media_type,
    no_content,
    require_patch_media_type,
    services,
)
from glimpse.domain.clock import isoformat
from glimpse.domain.images import Image
from glimpse.domain.patch import MEDIA_TYPES, parse_patch
from glimpse.settings import Settings


def image_view(image: Image, settings: Settings) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": image.id,
        "name": image.name,
        "status": image.status.value,
        "visibility": image.visibility.value,
        "protected": image.protected,
        "os_hidden": image.os_hidden,
        "checksum": image.checksum,
        "os_hash_algo": image.os_hash_algo,
        "os_hash_value": image.os_hash_value,
        "owner": image.owner,
        "size": image.size,
        "virtual_size": image.virtual_size,
        "min_ram": image.min_ram,
        "min_disk": image.min_disk,
        "container_format": image.container_format,
        "disk_format": image.disk_format,
        "created_at": isoformat(image.created_at),
        "updated_at": isoformat(image.updated_at),
        "tags": sorted(image.tags),
        "self": f"/v2/images/{image.id}",
        "file": f"/v2/images/{image.id}/file",
        "schema": "/v2/schemas/image",
    }
    view.update(image.properties)
    if image.locations:
        view["stores"] = ",".join(image.stores)
        if settings.show_image_direct_url:
            view["direct_url"] = image.locations[0].url
    if settings.show_multiple_locations:
        # as Glance with enabled_backends: each location's metadata names its store
        view["locations"] = [
            {"url": loc.url, "metadata": {**loc.metadata, "store": loc.store}} for loc in image.locations
        ]
    return view


def _create_headers(request: Request, image: Image) -> dict[str, str]:
    return {
        "Location": f"/v2/images/{image.id}",
        "OpenStack-image-store-ids": ",".join(store.id for store in services(request).stores),
        "OpenStack-image-import-methods": ",".join(services(request).imports.methods),
    }


async def create(request: Request) -> Response:
    svc = services(request)
    image = await svc.images.create(context(request), await json_object(request))
    return json_response(image_view(image, svc.settings), 201, _create_headers(request, image))


async def index(request: Request) -> Response:
    svc = services(request)
    params = list(request.query_params.multi_items())
    page = await svc.images.list(context(request), params)
    kept = [(k, v) for k, v in params if k != "marker"]
    body: dict[str, Any] = {
        "images": [image_view(image, svc.settings) for image in page.images],
        "first": "/v2/images" + (f"?{urlencode(kept)}" if kept else ""),  # as Glance: the query without marker
        "schema": "/v2/schemas/images",
    }
    if page.next_marker is not None:
        body["next"] = "/v2/images?" + urlencode([*kept, ("marker", page.next_marker)])
    return json_response(body)


async def show(request: Request) -> Response:
    svc = services(request)
    image = await svc.images.get(context(request), request.path_params["image_id"])
    return json_response(image_view(image, svc.settings))


async def update(request: Request) -> Response:
    svc = services(request)
    require_patch_media_type(request, *MEDIA_TYPES)
    body = await json_body(request)
    ops = parse_patch(body, media_type(request))
    image = await svc.images.update(context(request), request.path_params["image_id"], ops)
    return json_response(image_view(image, svc.settings))


async def delete(request: Request) -> Response:
    await services(request).images.delete(context(request), request.path_params["image_id"])
    return no_content()


async def deactivate(request: Request) -> Response:
    await services(request).images.deactivate(context(request), request.path_params["image_id"])
    return no_content()


async def reactivate(request: Request) -> Response:
    await services(request).images.reactivate(context(request), request.path_params["image_id"])
    return no_content()
