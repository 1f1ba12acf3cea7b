"""How a dashboard page is answered: the session is opened, the person authenticated with the configured
authenticator, every POST and PUT checked for its CSRF token, the page rendered with autoescaping Jinja2, and a
domain error shown as a page with its status (the status from api/errors.py's table)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from glimpse.api.dashboard.session import COOKIE, Session, SessionCodec, new_session
from glimpse.api.errors import status_for
from glimpse.api.http import bounded_body, check_text
from glimpse.api.written import caller_of, set_cookie
from glimpse.container import Services
from glimpse.context import RequestContext, current_caller
from glimpse.errors import BadRequest, GlimpseError, Unauthorized

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
MAX_FORM_BYTES = 64 * 1024
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))


@dataclass(frozen=True, slots=True)
class Pager:
    first_url: str = ""
    next_url: str = ""


@dataclass(slots=True)
class Call:
    """One signed-in request: the services, the person's context and session, and the POSTed form."""

    request: Request
    svc: Services
    ctx: RequestContext
    session: Session
    form: dict[str, str] = field(default_factory=dict)

    def url(self, path: str, **query: Any) -> str:
        """A dashboard URL (the prefix the dashboard is mounted under included)."""
        params = {k: v for k, v in query.items() if v not in (None, "")}
        return root_path(self.request) + path + (f"?{urlencode(params)}" if params else "")

    def render(self, template: str, code: int = 200, **values: Any) -> Response:
        return render(self.request, template, self.session, code, call=self, **values)

    def pager(self, path: str, query: dict[str, str], marker: str, next_marker: str | None) -> Pager:
        """The pager's links: the first page (when not on it) and the next one (when there is one)."""
        return Pager(
            first_url=self.url(path, **query) if self.query(marker) else "",
            next_url=self.url(path, **query, **{marker: next_marker}) if next_marker else "",
        )

    def redirect(self, path: str, **query: Any) -> Response:
        return RedirectResponse(self.url(path, **query), status_code=303)

    def query(self, name: str, default: str = "") -> str:
        value = self.request.query_params.get(name, default)
        return check_text(value, f"query parameter {name[:40]}").strip()


PageHandler = Callable[[Call], Awaitable[Response]]


def root_path(request: Request) -> str:
    """Where the dashboard is mounted (``/dashboard``); every link starts with it."""
    return str(request.scope.get("root_path", ""))


def render(request: Request, template: str, session: Session | None, code: int = 200, **values: Any) -> Response:
    html = environment.get_template(template).render(root=root_path(request), session=session, **values)
    return HTMLResponse(html, status_code=code, headers=SECURITY_HEADERS)


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def codec(request: Request) -> SessionCodec:
    value: SessionCodec = request.app.state.sessions
    return value


def current_session(request: Request) -> Session | None:
    return codec(request).open(request.cookies.get(COOKIE))


def with_session(response: Response, request: Request, session: Session) -> Response:
    response.set_cookie(**codec(request).cookie(session))
    return response


async def read_form(request: Request) -> dict[str, str]:
    """A bounded ``application/x-www-form-urlencoded`` body (every dashboard form is one); the last value of a
    repeated field wins. Other bodies give an empty form (the CSRF check then refuses a POST)."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return {}
    body = await bounded_body(request, MAX_FORM_BYTES)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise BadRequest("A form must be UTF-8 text") from None
    return {check_text(k, "form field"): check_text(v, f"form field {k[:40]}") for k, v in pairs}


def same_origin(request: Request) -> bool:
    """A browser's ``Origin`` (sent with every POST by current browsers), when present, names this server."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


def forbidden(request: Request, session: Session | None, message: str) -> Response:
    return render(request, "error.html", session, 403, status=403, message=message)


def error_page(request: Request, session: Session | None, exc: GlimpseError) -> Response:
    status = status_for(exc)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"error": exc.message}, status_code=status, headers=SECURITY_HEADERS)
    return render(request, "error.html", session, status, status=status, message=exc.message)


def to_sign_in(request: Request) -> Response:
    root = root_path(request)
    wanted = root + request.scope["path"] if request.method == "GET" else ""
    target = f"{root}/login" + (f"?{urlencode({'next': wanted})}" if wanted else "")
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"error": "Sign in first."}, status_code=401, headers=SECURITY_HEADERS)
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(COOKIE, path="/dashboard")
    return response


async def check_csrf(request: Request, session: Session) -> dict[str, str] | None:
    """The form of a state-changing request whose CSRF token matches the session's; None when it does not.
    Forms send it as ``csrf_token``, scripts (a streamed upload) as ``X-CSRF-Token``."""
    if not same_origin(request):
        return None
    form = await read_form(request)
    sent = request.headers.get("x-csrf-token") or form.get("csrf_token")
    return form if session.csrf_matches(sent) else None


def page(path: str, **handlers: PageHandler) -> Route:
    """A signed-in page: GET renders, POST (and PUT) change something and need the session's CSRF token."""

    async def dispatch(request: Request) -> Response:
        handler = handlers.get(request.method) or (handlers.get("GET") if request.method == "HEAD" else None)
        if handler is None:
            return Response(status_code=405, headers={"Allow": ", ".join(sorted(handlers))})
        session = current_session(request)
        if session is None or not session.signed_in:
            return to_sign_in(request)
        form: dict[str, str] = {}
        svc = services(request)
        try:
            ctx = await svc.auth.authenticate(session.headers)
            ctx = replace(ctx, request_id=request.scope.get("glimpse.request_id", ctx.request_id))
            request.scope["glimpse.context"] = ctx  # the access line and the audit entry name the person
            if request.method not in ("GET", "HEAD"):
                checked = await check_csrf(request, session)
                if checked is None:
                    return forbidden(request, session, "The form's CSRF token is missing or wrong: reload the page.")
                form = checked
        except Unauthorized:  # the token expired or was revoked
            return to_sign_in(request)
        except GlimpseError as exc:  # a form too large, the identity service unavailable
            return error_page(request, session, exc)
        caller = caller_of(ctx.caller, request.headers.get("cookie"))  # the person's changes are in what they read
        caller_token = current_caller.set(caller)
        try:
            for name, value in request.path_params.items():
                check_text(str(value), f"path parameter {name}")
            response = await handler(Call(request, svc, ctx, session, form))
        except GlimpseError as exc:
            response = error_page(request, session, exc)
        finally:
            current_caller.reset(caller_token)
        if (written := set_cookie(caller)) is not None:
            response.headers.append("set-cookie", written)
        return response

    return Route(path, dispatch, methods=list(handlers), name=path)


__all__ = ["Call", "new_session", "page", "render"]
