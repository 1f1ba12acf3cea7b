"""/artifacts/{type_name}/{artifact_id}/{blob_path}: upload (PUT data or a custom location), download (GET),
delete an external blob (DELETE)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from glimpse.api.artifacts.v1.artifacts import artifact_response
from glimpse.api.http import context, data_stream, media_type, services
from glimpse.errors import BadRequest
from glimpse.services.artifacts.blobs import LOCATION_MEDIA_TYPE


def _content_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    if not raw.strip().isdigit():
        raise BadRequest("Content-Length must be a non negative integer.")
    return int(raw)


async def upload(request: Request) -> Response:
    params = request.path_params
    if "content-type" not in request.headers:
        raise BadRequest("Content-Type must be specified.")
    blobs = services(request).artifact_blobs
    args = (context(request), params["type_name"], params["artifact_id"], params["blob_path"])
    if media_type(request) == LOCATION_MEDIA_TYPE:
        artifact = await blobs.add_location(*args, await request.body())
    else:
        artifact = await blobs.upload(
            *args,
            data_stream(request),
            content_type=request.headers["content-type"],
            content_length=_content_length(request),
        )
    return artifact_response(artifact)


async def download(request: Request) -> Response:
    params = request.path_params
    result = await services(request).artifact_blobs.download(
        context(request), params["type_name"], params["artifact_id"], params["blob_path"]
    )
    meta = result.meta
    headers = {
        "Content-MD5": meta["md5"] or "",
        "X-Openstack-Glare-Content-SHA1": meta["sha1"] or "",
        "X-Openstack-Glare-Content-SHA256": meta["sha256"] or "",
    }
    if result.redirect is not None:  # an external blob: the client is sent there
        headers["Location"] = result.redirect
        return Response(status_code=301, headers={**headers, "Content-Length": "0"}, media_type="application/json")
    assert result.body is not None
    if meta["size"] is not None:
        headers["Content-Length"] = str(meta["size"])
    return StreamingResponse(
        result.body, media_type=meta["content_type"] or "application/octet-stream", headers=headers
    )


async def delete(request: Request) -> Response:
    params = request.path_params
    artifact = await services(request).artifact_blobs.delete_external(
        context(request), params["type_name"], params["artifact_id"], params["blob_path"]
    )
    return artifact_response(artifact)
