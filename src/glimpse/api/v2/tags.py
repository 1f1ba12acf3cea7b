"""/v2/images/{id}/tags/{tag}."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from glimpse.api.http import context, no_content, services


async def add(request: Request) -> Response:
    await services(request).tags.add(context(request), request.path_params["image_id"], request.path_params["tag"])
    return no_content()


async def delete(request: Request) -> Response:
    await services(request).tags.delete(context(request), request.path_params["image_id"], request.path_params["tag"])
    return no_content()
