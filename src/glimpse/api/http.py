"""Small request/response helpers shared by the handlers."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from glimpse.container import Services
from glimpse.context import RequestContext
from glimpse.errors import BadRequest, ClientDisconnected, TooLarge, UnsupportedMediaType

Handler = Callable[[Request], Awaitable[Response]]

MAX_JSON_DEPTH = 64
"""No request of the Images API nests JSON more than a few levels; deeper bodies are refused before
``json.loads`` (whose C scanner recurses once per level) ever sees them."""

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")


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


def require_patch_media_type(request: Request, *allowed: str) -> str:
    """A PATCH body's media type; else 415 with ``Accept-Patch`` listing the allowed ones, as Glance."""
    kind = media_type(request)
    if kind not in allowed:
        listed = ", ".join(sorted(allowed))
        raise UnsupportedMediaType(f"Image PATCH expects Content-Type one of: {listed}", accept_patch=listed)
    return kind


async def json_body(request: Request, *allowed: str) -> Any:
    """Read a bounded JSON body (``max_request_body_size``). With ``allowed`` media types the request must
    have one of them (415 otherwise); without, any Content-Type is read as JSON, as Glance reads the bodies of
    its JSON endpoints (``curl -d`` sends ``application/x-www-form-urlencoded``)."""
    if allowed:
        require_media_type(request, *allowed)
    limit = services(request).settings.max_request_body_size
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"Request body is larger than the limit of {limit} bytes")
    chunks = await bounded_body(request, limit)
    if not chunks:
        raise BadRequest("Body expected in request.")
    return parse_json(chunks)


async def bounded_body(request: Request, limit: int) -> bytes:
    """The whole request body, refused (TooLarge) as soon as it passes ``limit`` bytes."""
    chunks = bytearray()
    try:
        async for chunk in request.stream():
            chunks += chunk
            if len(chunks) > limit:
                raise TooLarge(f"Request body is larger than the limit of {limit} bytes")
    except ClientDisconnect:
        raise ClientDisconnected("The client disconnected while sending the request body") from None
    return bytes(chunks)


def parse_json(raw: bytes) -> Any:
    """THE parser of request bodies: JSON (UTF-8, -16 or -32, as ``json.loads`` detects it) nested at most
    :data:`MAX_JSON_DEPTH` levels, holding only text a database can store; anything else is a 400."""
    try:
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")
    except UnicodeDecodeError:
        raise BadRequest("Malformed JSON in request body.") from None
    if _nesting(text) > MAX_JSON_DEPTH:
        raise BadRequest(f"Malformed JSON in request body: nested deeper than {MAX_JSON_DEPTH} levels.")
    try:
        body = json.loads(text)
    except ValueError:
        raise BadRequest("Malformed JSON in request body.") from None
    _check_json_text(body)
    return body


def _nesting(text: str) -> int:
    """How deep arrays and objects nest in ``text``, counting the brackets outside string literals;
    stops counting once past the limit. For text that is not JSON the figure is only an estimate, and
    ``json.loads`` refuses it anyway."""
    depth = deepest = 0
    for bracket in _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    break
        else:
            depth -= 1
    return deepest


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


EMPTY_MEDIA_TYPE = "text/html"
"""Glance (webob) names a media type on its empty 202 and 204 answers; clients read no body from them, so
Glimpse names the same one (with its charset) and a side-by-side comparison shows the same headers."""


def no_content(headers: dict[str, str] | None = None, *, media_type: str | None = EMPTY_MEDIA_TYPE) -> Response:
    return Response(status_code=204, headers=headers, media_type=media_type)


def accepted() -> Response:
    """202 with no body: the work goes on in the background (an import, a location, a cache fill)."""
    return Response(status_code=202, media_type=EMPTY_MEDIA_TYPE)


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
