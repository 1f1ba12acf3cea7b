"""/artifacts/{type_name} (list, create) and /artifacts/{type_name}/{artifact_id} (show, update, delete)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from glimpse.api.http import context, json_body, media_type, services
from glimpse.errors import BadRequest, UnsupportedMediaType


def artifact_response(data: Any, status: int = 200) -> Response:
    body = json.dumps(data, ensure_ascii=False).encode()
    return Response(body, status_code=status, media_type="application/json; charset=UTF-8")


async def read_json(request: Request, expected: str) -> Any:
    if "content-type" not in request.headers:
        raise BadRequest("Content-Type must be specified.")
    kind = media_type(request)
    if kind != expected:
        raise UnsupportedMediaType(f"Invalid content type: {kind}. Expected: {expected}")
    return await json_body(request, expected)


async def index(request: Request) -> Response:
    type_name = request.path_params["type_name"]
    params = request.query_params.multi_items()
    page = await services(request).artifacts.list(context(request), type_name, params)
    kept = {name: value for name, value in params if name != "marker"}
    query = urlencode(kept)
    body: dict[str, Any] = {
        "type_name": type_name,
        "artifacts": page.artifacts,
        "first": f"/artifacts/{type_name}" + (f"?{query}" if query else ""),
        "schema": f"/schemas/{type_name}",
        "total_count": page.total_count,
    }
    if page.next_marker is not None:
        body["next"] = f"/artifacts/{type_name}?" + urlencode({**kept, "marker": page.next_marker})
    return artifact_response(body)


async def create(request: Request) -> Response:
    body = await read_json(request, "application/json")
    if not isinstance(body, dict):
        raise BadRequest(f"Dictionary expected as body value. Got {type(body).__name__}.")
    artifact = await services(request).artifacts.create(context(request), request.path_params["type_name"], body)
    return artifact_response(artifact, 201)


async def show(request: Request) -> Response:
    params = request.path_params
    artifact = await services(request).artifacts.show(context(request), params["type_name"], params["artifact_id"])
    return artifact_response(artifact)


async def update(request: Request) -> Response:
    body = await read_json(request, "application/json-patch+json")
    params = request.path_params
    artifact = await services(request).artifacts.update(
        context(request), params["type_name"], params["artifact_id"], body
    )
    return artifact_response(artifact)


async def delete(request: Request) -> Response:
    params = request.path_params
    await services(request).artifacts.delete(context(request), params["type_name"], params["artifact_id"])
    return Response(status_code=204, media_type="text/html")  # webob (Glare) names one even without a body
