"""/v2/info/*: what this deployment offers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from glimpse.api.http import context, json_response, services


async def stores(request: Request) -> Response:
    return json_response({"stores": services(request).store_info.summaries()})


async def stores_detail(request: Request) -> Response:
    return json_response({"stores": services(request).store_info.detail(context(request))})


async def usage(request: Request) -> Response:
    return json_response({"usage": await services(request).quotas.usage_of(context(request))})
