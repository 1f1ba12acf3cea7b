"""/v2/images/{id}/file: streamed upload and download (with Range)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from glimpse.api.http import context, data_stream, int_header, no_content, require_media_type, services


async def upload(request: Request) -> Response:
    require_media_type(request, "application/octet-stream")
    await services(request).image_data.upload(
        context(request),
        request.path_params["image_id"],
        data_stream(request),
        declared_size=int_header(request, "x-openstack-image-size"),
        store_id=request.headers.get("x-image-meta-store"),
    )
    return no_content()


async def download(request: Request) -> Response:
    result = await services(request).image_data.download(
        context(request), request.path_params["image_id"], request.headers.get("range")
    )
    if result is None:
        return no_content()
    headers = {"Content-Length": str(result.length), "Accept-Ranges": "bytes"}
    if result.partial:
        end = result.start + result.length - 1
        headers["Content-Range"] = f"bytes {result.start}-{end}/{result.total}"
    elif result.image.checksum:
        headers["Content-MD5"] = result.image.checksum
    return StreamingResponse(
        result.body, status_code=206 if result.partial else 200, media_type="application/octet-stream", headers=headers
    )
