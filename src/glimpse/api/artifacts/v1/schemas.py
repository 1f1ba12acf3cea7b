"""GET /schemas and /schemas/{type_name}: the JSON schemas of the enabled artifact types."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from glimpse.api.http import context, services


def _schema_response(data: object) -> Response:
    body = json.dumps({"schemas": data}, ensure_ascii=False).encode()
    return Response(body, media_type="application/schema+json; charset=UTF-8")


async def index(request: Request) -> Response:
    return _schema_response(services(request).artifacts.schemas(context(request)))


async def show(request: Request) -> Response:
    type_name = request.path_params["type_name"]
    return _schema_response(services(request).artifacts.schemas(context(request), type_name))
