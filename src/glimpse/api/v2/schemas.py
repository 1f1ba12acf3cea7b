"""/v2/schemas/{name}: the JSON Schemas the server validates against."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from glimpse.api.http import json_response, services
from glimpse.errors import NotFound


async def show(request: Request) -> Response:
    name = request.path_params["name"]
    schema = services(request).schemas.by_name(name)
    if schema is None:
        raise NotFound(f"Schema {name} not found")
    return json_response(schema)
