"""THE table: domain exception -> HTTP status, and Glance-style (webob) error bodies.

Like Glance, the body format follows the Accept header: text/plain by default, text/html or JSON
(``{"message", "code", "title"}``) when asked for.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Mapping
from http import HTTPStatus

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from glimpse import errors

log = logging.getLogger(__name__)

INTERNAL_ERROR = "The server has either erred or is incapable of performing the requested operation."

STATUS_TABLE: tuple[tuple[type[errors.GlimpseError], int], ...] = (
    (errors.UnsupportedMediaType, 415),
    (errors.RangeNotSatisfiable, 416),
    (errors.Unauthorized, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.TooLarge, 413),
    (errors.BadRequest, 400),
    (errors.ClientDisconnected, 400),
    (errors.StorageFull, 413),
    (errors.StorageWriteDenied, 503),
    (errors.DatabaseUnavailable, 503),
    (errors.IdentityUnavailable, 503),
    (errors.KeyManagerUnavailable, 503),
    (errors.OrchestrationUnavailable, 503),
    (errors.ComputeUnavailable, 503),
    (errors.StoreUnavailable, 503),
    (errors.StoreError, 502),
)


def status_for(exc: errors.GlimpseError) -> int:
    for kind, status in STATUS_TABLE:
        if isinstance(exc, kind):
            return status
    return 400


def _preferred(accept: str) -> str:
    """webob's choice: text/html or application/json by the client's q-values (HTML wins a tie, so
    ``*/*`` gets HTML); text/plain when the header is empty or accepts neither."""
    offers = ("text/html", "application/json")
    best, best_q = "text/plain", 0.0
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        media = media.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        for offer in offers:
            matches = media in (offer, "*/*") or (media.endswith("/*") and offer.startswith(media[:-1]))
            if matches and q > best_q:
                best, best_q = offer, q
    return best


def error_response(status: int, message: str, accept: str = "", headers: Mapping[str, str] | None = None) -> Response:
    title = HTTPStatus(status).phrase
    code = f"{status} {title}"
    kind = _preferred(accept)
    if kind == "application/json":
        body = json.dumps({"message": message, "code": code, "title": title})
    elif kind == "text/html":
        body = (
            f"<html>\n <head>\n  <title>{code}</title>\n </head>\n <body>\n  <h1>{code}</h1>\n"
            f"  {_escape(message)}<br /><br />\n\n\n\n </body>\n</html>"
        )
    else:
        body = f"{code}\n\n{message}\n\n   "
    content_type = kind if kind != "text/plain" else "text/plain"
    return Response(body, status_code=status, media_type=content_type, headers=dict(headers or {}))


def _escape(text: str) -> str:
    """As webob escapes an explanation: quotes too, anything not ASCII as a character reference."""
    return html.escape(text, quote=True).encode("ascii", "xmlcharrefreplace").decode("ascii")


async def handle_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.GlimpseError)
    status = status_for(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, errors.Unauthorized):
        challenge = getattr(request.app.state, "auth_challenge", None)
        if challenge:
            headers["WWW-Authenticate"] = challenge
    if isinstance(exc, errors.UnsupportedMediaType) and exc.accept_patch:
        headers["Accept-Patch"] = exc.accept_patch
    if status >= 500:
        log.error("request failed: %s", exc.message)
    return error_response(status, exc.message, request.headers.get("accept", ""), headers)


async def handle_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = (
        exc.detail
        if exc.detail != HTTPStatus(exc.status_code).phrase
        else {
            404: "The resource could not be found.",
            405: "The method is not allowed for this resource.",
        }.get(exc.status_code, exc.detail)
    )
    return error_response(exc.status_code, message, request.headers.get("accept", ""), exc.headers)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, INTERNAL_ERROR, request.headers.get("accept", ""))
