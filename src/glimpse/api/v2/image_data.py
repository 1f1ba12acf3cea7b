"""/v2/images/{id}/file: streamed upload and download (with Range).

HTTP details as Glance's: a ranged download carries the whole image's ``Content-MD5`` too; several ranges
in one ``Range`` are a 400; without ``Range``, the legacy ``Content-Range: bytes a-b/len`` request header
names the bytes wanted (Glance keeps it for old clients); a 416 has no ``Content-Range``. Uploads may be
sent chunked (no ``Content-Length``); a ``Content-Range`` on an upload is ignored, the body is the image.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from glimpse.api.http import context, data_stream, int_header, no_content, require_media_type, services
from glimpse.api.zerocopy import RegionResponse
from glimpse.errors import BadRequest, RangeNotSatisfiable
from glimpse.stores.region import FileRegion

_LEGACY_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$")


def requested_range(request: Request) -> str | None:
    """The ``Range`` to serve: the header itself, or the legacy request ``Content-Range`` as one (a malformed
    one becomes a range the service refuses with 416 once it has checked the caller may see the image)."""
    header = request.headers.get("range")
    if header is not None:
        return header
    legacy = request.headers.get("content-range")
    if legacy is None:
        return None
    match = _LEGACY_RANGE.match(legacy)
    if match is None:
        return "bytes=invalid-content-range"
    return f"bytes={match.group(1)}-{match.group(2)}"


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
    wanted = requested_range(request)
    try:
        result = await services(request).image_data.download(context(request), request.path_params["image_id"], wanted)
    except RangeNotSatisfiable:
        if wanted is not None and "," in wanted:
            raise BadRequest(
                "Requests with multiple ranges are not supported in Glance. You may make multiple single-range "
                "requests instead."
            ) from None
        raise
    if result is None:
        return no_content()
    headers = {"Content-Length": str(result.length), "Accept-Ranges": "bytes"}
    if result.partial:
        end = result.start + result.length - 1
        headers["Content-Range"] = f"bytes {result.start}-{end}/{result.total}"
    if result.image.checksum:  # the whole image's, ranged or not (as Glance)
        headers["Content-MD5"] = result.image.checksum
    status = 206 if result.partial else 200
    if isinstance(result.body, FileRegion):  # a local file: sent with sendfile where the server can
        return RegionResponse(result.body, status, headers, media_type="application/octet-stream")
    return StreamingResponse(result.body, status_code=status, media_type="application/octet-stream", headers=headers)
