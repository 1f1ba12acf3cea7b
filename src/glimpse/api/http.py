"""Small request/response helpers shared by the handlers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from glimpse.container import Services
from glimpse.context import RequestContext
from glimpse.errors import BadRequest, ClientDisconnected, TooLarge, UnsupportedMediaType

Handler = Callable[[Request], Awaitable[Response]]


def check_text(value: str, what: str) -> str:
    """Refuse text no database can store: NUL characters and lone surrogates (not valid UTF-8)."""
    if "\x00" in value:
        raise BadRequest(f"Invalid {what}: NUL characters are not allowed")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"Invalid {what}: not valid UTF-8 text") from None
    return value


def _check_json_text(value: Any) -> None:
    if isinstance(value, str):
        check_text(value, "value in request body")
    elif isinstance(value, list):
        for item in value:
            _check_json_text(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, "key in request body")
            _check_json_text(item)


def check_request_text(request: Request) -> None:
    """Path and query parameters are text too."""
    for name, value in request.path_params.items():
        if isinstance(value, str):
            check_text(value, f"path parameter {name}")
    for name, value in request.query_params.multi_items():
        check_text(name, "query parameter name")
        check_text(value, f"query parameter {name[:40]}")


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def context(request: Request) -> RequestContext:
    ctx: RequestContext = request.scope["glimpse.context"]
    return ctx


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def require_media_type(request: Request, *allowed: str) -> str:
    kind = media_type(request)
    if kind not in allowed:
        raise UnsupportedMediaType(f"Unsupported Content-Type {kind or '(none)'}: use {' or '.join(allowed)}")
    return kind


async def json_body(request: Request, *allowed: str) -> Any:
    """Read a bounded JSON body (``max_request_body_size``) of one of the allowed media types."""
    require_media_type(request, *(allowed or ("application/json",)))
    limit = services(request).settings.max_request_body_size
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"Request body is larger than the limit of {limit} bytes")
    chunks = bytearray()
    try:
        async for chunk in request.stream():
            chunks += chunk
            if len(chunks) > limit:
                raise TooLarge(f"Request body is larger than the limit of {limit} bytes")
    except ClientDisconnect:
        raise ClientDisconnected("The client disconnected while sending the request body") from None
    if not chunks:
        raise BadRequest("Body expected in request.")
    try:
        body = json.loads(chunks)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("Malformed JSON in request body.") from None
    _check_json_text(body)
    return body


async def json_object(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object.")
    return body


async def data_stream(request: Request) -> AsyncIterator[bytes]:
    """The raw request body as it arrives; a client that goes away becomes ClientDisconnected."""
    try:
        async for chunk in request.stream():
            if chunk:
                yield chunk
    except ClientDisconnect:
        raise ClientDisconnected("The client disconnected while sending image data") from None


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def no_content(headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=204, headers=headers)


def int_header(request: Request, name: str) -> int | None:
    raw = request.headers.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"Header {name} must be an integer, got {raw!r}") from None
    if value < 0:
        raise BadRequest(f"Header {name} must not be negative")
    return value
