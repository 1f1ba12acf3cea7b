"""/v2/cache: the image cache API (Glance's 2.14-2.18 cache management: list, queue, delete, clear, clean,
prune, and the nodes holding an image). Statuses as Glance's: PUT 202, DELETE 204, clean 200 with no body."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from glimpse.api.http import accepted, context, json_response, no_content, services


async def index(request: Request) -> Response:
    return json_response(await services(request).cache.state(context(request)))


async def queue(request: Request) -> Response:
    await services(request).cache.queue_image(context(request), request.path_params["image_id"])
    return accepted()


async def delete(request: Request) -> Response:
    await services(request).cache.delete_entry(context(request), request.path_params["image_id"])
    return no_content()


async def clear(request: Request) -> Response:
    await services(request).cache.clear(context(request), request.headers.get("x-image-cache-clear-target"))
    return no_content()


async def clean(request: Request) -> Response:
    await services(request).cache.clean(context(request))
    return Response(status_code=200)


async def prune(request: Request) -> Response:
    return json_response(await services(request).cache.prune(context(request)))


async def nodes(request: Request) -> Response:
    return json_response(await services(request).cache.nodes(context(request), request.path_params["image_id"]))
