"""/v2/images/{id}/locations (Images API 2.17): add a location to a queued image, list an image's locations."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from glimpse.api.http import accepted, context, json_object, json_response, services


async def add(request: Request) -> Response:
    body = await json_object(request)
    await services(request).locations.add(context(request), request.path_params["image_id"], body)
    return accepted()


async def index(request: Request) -> Response:
    locations = await services(request).locations.list(context(request), request.path_params["image_id"])
    return json_response(locations)
