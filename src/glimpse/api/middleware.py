"""Pure ASGI middleware: request id on every response, authentication for /v2, an access log line."""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from glimpse.api.errors import INTERNAL_ERROR, error_response
from glimpse.auth import Authenticator
from glimpse.errors import Unauthorized

log = logging.getLogger("glimpse.access")

PUBLIC_PATHS = frozenset({"/", "/versions", "/healthcheck", "/openapi.json"})


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.auth = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"req-{uuid.uuid4()}"
        request_id_header = (b"x-openstack-request-id", request_id.encode())
        status_holder = [0]
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), request_id_header]
                status_holder[0] = message["status"]
            await send(message)

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path: str = scope["path"]
        if path not in PUBLIC_PATHS:
            try:
                ctx = self.auth.authenticate(headers)
            except Unauthorized as exc:
                challenge = {"WWW-Authenticate": self.auth.challenge} if self.auth.challenge else {}
                response = error_response(401, exc.message, headers.get("accept", ""), challenge)
                await response(scope, receive, send_with_id)
                log.info("%s %s 401 request_id=%s", scope["method"], path, request_id)
                return
            scope["glimpse.context"] = dataclasses.replace(ctx, request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if not status_holder[0]:
                # answer here, with the request id: Starlette's outermost 500 handler is outside this middleware
                response = error_response(500, INTERNAL_ERROR, headers.get("accept", ""))
                await response(scope, receive, send_with_id)
            raise
        finally:
            ctx_obj = scope.get("glimpse.context")
            log.info(
                "%s %s %s %.1fms request_id=%s user=%s project=%s",
                scope["method"],
                path,
                status_holder[0],
                (time.perf_counter() - started) * 1000,
                request_id,
                getattr(ctx_obj, "user_id", None),
                getattr(ctx_obj, "project_id", None),
            )
