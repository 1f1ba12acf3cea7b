"""/v2/images/{id}/stage, /v2/images/{id}/import and /v2/info/import."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from glimpse.api.http import (
    accepted,
    context,
    data_stream,
    int_header,
    json_object,
    json_response,
    no_content,
    require_media_type,
    services,
)
from glimpse.errors import BadRequest


async def stage(request: Request) -> Response:
    require_media_type(request, "application/octet-stream")
    await services(request).imports.stage(
        context(request),
        request.path_params["image_id"],
        data_stream(request),
        declared_size=int_header(request, "x-openstack-image-size"),
    )
    return no_content()


async def start(request: Request) -> Response:
    body = await json_object(request)
    header = request.headers.get("x-image-meta-store")
    if header is not None:
        # Glance: the header names the one target store when the body has no `stores` (all_stores with it is
        # a 400 from the service). openstacksdk sends both for `store=`, so an agreeing pair is accepted.
        stores = body.get("stores")
        if stores is None:
            body = {**body, "stores": [header]}
        elif not isinstance(stores, list) or header not in stores:
            raise BadRequest("Stores parameter and x-image-meta-store header can't be both specified")
    await services(request).imports.start(context(request), request.path_params["image_id"], body)
    return accepted()


async def info(request: Request) -> Response:
    methods = services(request).imports.methods
    return json_response(
        {"import-methods": {"description": "Import methods available.", "type": "array", "value": methods}}
    )
