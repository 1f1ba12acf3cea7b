"""/v2/stores/{store_id}/{image_id}: remove one store's copy of an image."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from glimpse.api.http import context, no_content, services


async def delete(request: Request) -> Response:
    await services(request).store_info.delete_copy(
        context(request), request.path_params["store_id"], request.path_params["image_id"]
    )
    return no_content()
