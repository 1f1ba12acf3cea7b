"""Sign-in and sign-out. With Keystone: user name, password, project (and domain); the token Keystone issues is
what the session carries. Embedded (token file): a Glimpse token. noauth (development): a user and a project."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from glimpse.api.dashboard.pages import (
    Call,
    check_csrf,
    current_session,
    error_page,
    forbidden,
    render,
    root_path,
    services,
    with_session,
)
from glimpse.api.dashboard.session import COOKIE, COOKIE_PATH, new_session
from glimpse.auth.signin import password_token
from glimpse.errors import GlimpseError, Unauthorized


def _next(request: Request, wanted: str) -> str:
    """Where to go after signing in: a dashboard path only (never another site)."""
    root = root_path(request)
    if wanted.startswith(root + "/") and not wanted.startswith("//") and "\\" not in wanted:
        return wanted
    return root + "/apps"


async def show(request: Request) -> Response:
    session = current_session(request)
    if session is None or session.signed_in:  # a fresh anonymous session holds the sign-in form's CSRF token
        session = new_session()
    mode = services(request).settings.auth
    page = render(request, "login.html", session, mode=mode, next=request.query_params.get("next", ""), error="")
    return with_session(page, request, session)


async def submit(request: Request) -> Response:
    session = current_session(request)
    try:
        form = await check_csrf(request, session) if session is not None else None
    except GlimpseError as exc:  # a form too large
        return error_page(request, session, exc)
    if session is None or form is None:
        return forbidden(request, session, "The sign-in form's CSRF token is missing or wrong: reload the page.")
    svc = services(request)
    mode = svc.settings.auth
    user, project = form.get("username", "").strip(), form.get("project", "").strip()
    try:
        if mode == "keystone":
            domain = form.get("domain", "").strip() or "Default"
            token = await password_token(svc.settings.keystone_authtoken, user, form.get("password", ""), project,
                                         domain)  # fmt: skip
            headers = {"x-auth-token": token}
        elif mode == "noauth":
            if not user or not project:
                raise Unauthorized("Give a user and a project.")
            headers = {"x-user-id": user, "x-project-id": project, "x-roles": "member,reader"}
        else:
            headers = {"x-auth-token": form.get("token", "").strip()}
        ctx = await svc.auth.authenticate(headers)
    except Unauthorized as exc:
        page = render(request, "login.html", session, 401, mode=mode, next=form.get("next", ""), error=exc.message)
        return page
    except GlimpseError as exc:
        return error_page(request, session, exc)
    signed = new_session(headers, user=ctx.user_id or user, project=ctx.project_id or project)
    response = RedirectResponse(_next(request, form.get("next", "")), status_code=303)
    return with_session(response, request, signed)


async def sign_out(call: Call) -> Response:
    response = call.redirect("/login")
    response.delete_cookie(COOKIE, path=COOKIE_PATH, secure=call.svc.settings.dashboard_cookie_secure, httponly=True)
    return response
