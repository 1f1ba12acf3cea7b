"""Pure ASGI middleware: request id on every response, authentication for /v2, an access log line, the
request metrics (count and latency by method, route template and status) and the audit log's entry of every
state-changing or refused request."""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from glimpse.api.errors import INTERNAL_ERROR, error_response, status_for
from glimpse.api.versions import negotiate
from glimpse.api.written import caller_of, set_cookie
from glimpse.auth import Authenticator
from glimpse.context import Caller, current_caller
from glimpse.domain.audit import AuditEntry, audited, outcome
from glimpse.domain.clock import utcnow
from glimpse.domain.images import new_id
from glimpse.errors import GlimpseError
from glimpse.logs import RequestLog, current_request
from glimpse.metrics import UNMATCHED, Metrics
from glimpse.services.audit import AuditLog

log = logging.getLogger("glimpse.access")

PUBLIC_PATHS = frozenset({"/", "/versions", "/healthcheck", "/metrics", "/openapi.json"})


def route_template(scope: Scope) -> str:
    """The path template of the route that answered (a bounded metrics label, never the raw path).

    The router records it in the scope; a request answered before routing (a 401) is matched here.
    """
    route = scope.get("route")
    if route is None:
        for candidate in getattr(scope.get("app"), "routes", ()):
            if candidate.matches(scope)[0] is Match.FULL:
                route = candidate
                break
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        authenticator: Authenticator,
        metrics: Metrics,
        public_paths: frozenset[str] = PUBLIC_PATHS,
        negotiate_versions: bool = True,
        image_cache: bool = False,
        audit: AuditLog | None = None,
        authenticate: bool = True,
        label_prefix: str = "",
    ) -> None:
        self.app = app
        # False: the app behind authenticates itself (the dashboard's session cookie) and leaves the person's
        # context in scope["glimpse.context"], read for the access line and the audit entry when it is done
        self.authenticate = authenticate
        self.label_prefix = label_prefix  # a mounted app's prefix, in its access lines and route labels
        self.audit = audit if audit is not None and audit.enabled else None
        self.auth = authenticator
        self.metrics = metrics
        self.public_paths = public_paths
        self.negotiate_versions = negotiate_versions  # Glance's; the artifacts API negotiates its own
        self.image_cache = image_cache  # the cache's versions (2.14, 2.16, 2.18) are offered with it

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
                if (written := set_cookie(caller)) is not None:  # this request changed something so far
                    message["headers"].append((b"set-cookie", written.encode()))
                status_holder[0] = message["status"]
            await send(message)

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        scope["glimpse.requested_path"] = self.label_prefix + scope["path"]
        scope["glimpse.request_id"] = request_id
        if self.negotiate_versions:
            negotiate(scope, headers.get("accept", ""), self.image_cache)  # before authentication, as Glance's filter
        path: str = scope["path"]
        user = project = None
        caller: Caller | None = None
        roles: tuple[str, ...] = ()
        if self.authenticate and path not in self.public_paths:
            try:
                ctx = await self.auth.authenticate(headers)
            except GlimpseError as exc:  # Unauthorized (401), or the identity service is unavailable (503)
                status = status_for(exc)
                challenge = {"WWW-Authenticate": self.auth.challenge} if self.auth.challenge and status == 401 else {}
                response = error_response(status, exc.message, headers.get("accept", ""), challenge)
                try:
                    await response(scope, receive, send_with_id)
                finally:
                    self._finish(scope, status_holder[0], started, request_id, None, None, ())
                return
            scope["glimpse.context"] = dataclasses.replace(ctx, request_id=request_id)
            user, project, roles = ctx.user_id, ctx.project_id, tuple(sorted(ctx.roles))
            caller = caller_of(ctx.caller, headers.get("cookie"))
        log_token = current_request.set(RequestLog(request_id, user, project))
        caller_token = current_caller.set(caller)
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if not status_holder[0]:
                # answer here, with the request id: Starlette's outermost 500 handler is outside this middleware
                response = error_response(500, INTERNAL_ERROR, headers.get("accept", ""))
                await response(scope, receive, send_with_id)
            raise
        finally:
            if not self.authenticate and (inner := scope.get("glimpse.context")) is not None:
                user, project, roles = inner.user_id, inner.project_id, tuple(sorted(inner.roles))
            self._finish(scope, status_holder[0], started, request_id, user, project, roles)
            current_caller.reset(caller_token)
            current_request.reset(log_token)

    def _finish(
        self, scope: Scope, status: int, started: float, request_id: str, user: str | None, project: str | None,
        roles: tuple[str, ...],
    ) -> None:  # fmt: skip
        """The access line, the request metrics and the audit entry, once the response is over (or failed)."""
        seconds = time.perf_counter() - started
        method: str = scope["method"]
        path: str = scope.get("glimpse.requested_path", scope["path"])
        template = route_template(scope)
        if template != UNMATCHED:
            template = self.label_prefix + template
        self.metrics.observe_request(method, template, status, seconds)
        if self.audit is not None and audited(method, status):
            params = scope.get("path_params") or {}
            target = next((str(value)[:255] for value in params.values()), None)
            self.audit.record(
                AuditEntry(
                    id=new_id(),
                    created_at=utcnow(),
                    request_id=request_id,
                    user_id=user,
                    project_id=project,
                    roles=roles,
                    method=method[:16],
                    action=f"{method[:16]} {template}"[:255],
                    path=path[:2048],
                    target=target,
                    status=status,
                    outcome=outcome(status),
                )
            )
        duration_ms = round(seconds * 1000, 1)
        log.info(
            "%s %s %s %.1fms request_id=%s user=%s project=%s",
            method,
            path,
            status,
            duration_ms,
            request_id,
            user,
            project,
            extra={
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": duration_ms,
                "request_id": request_id,
                "user": user,
                "project": project,
            },
        )
