"""Glare's error bodies for the artifacts API. Statuses come from THE table (``glimpse.api.errors``)."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from glimpse import errors
from glimpse.api.errors import INTERNAL_ERROR, status_for

log = logging.getLogger(__name__)

# webob's explanations, which Glare's fault wrapper sends with each status
EXPLANATIONS = {
    400: "The server could not comply with the request since it is either malformed or otherwise incorrect.",
    401: "This server could not verify that you are authorized to access the document you requested.",
    403: "Access was denied to this resource.",
    404: "The resource could not be found.",
    405: "The method is not allowed for this resource.",
    406: "The resource could not be generated that was acceptable to your browser (content of type {}).",
    409: "There was a conflict when trying to complete your request.",
    413: "The body of your request was too large for this server.",
    415: "The request media type {} is not supported by this server.",
    500: "The server has either erred or is incapable of performing the requested operation.",
}
# Glare's exception names, by the domain exception that stands for them
TYPE_NAMES: tuple[tuple[type[errors.GlimpseError], str], ...] = (
    (errors.TooLarge, "RequestEntityTooLarge"),
    (errors.UnsupportedMediaType, "UnsupportedMediaType"),
    (errors.Unauthorized, "Unauthorized"),
    (errors.Forbidden, "Forbidden"),
    (errors.NotFound, "NotFound"),
    (errors.Conflict, "Conflict"),
    (errors.BadRequest, "BadRequest"),
)


def glare_error(status: int, message: str, kind: str, extra: dict[str, Any] | None = None) -> Response:
    body: dict[str, Any] = {
        "code": status,
        "title": HTTPStatus(status).phrase,
        "explanation": EXPLANATIONS.get(status, HTTPStatus(status).description),
        "error": {"message": message, "type": kind},
        **(extra or {}),
    }
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def type_name(exc: errors.GlimpseError) -> str:
    for cls, name in TYPE_NAMES:
        if isinstance(exc, cls):
            return name
    return type(exc).__name__


async def handle_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.GlimpseError)
    status = status_for(exc)
    if status >= 500:
        log.error("request failed: %s", exc.message)
    return glare_error(status, exc.message, type_name(exc))


async def handle_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    kind = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPException")
    response = glare_error(exc.status_code, str(exc.detail), kind)
    response.headers.update(exc.headers or {})
    return response


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return glare_error(500, INTERNAL_ERROR, "Exception")
