"""create_app(settings, services=None) -> the ASGI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from glimpse.api.errors import handle_domain_error, handle_http_error, handle_unexpected
from glimpse.api.middleware import RequestContextMiddleware
from glimpse.api.routes import ROUTES
from glimpse.container import Services, build_services
from glimpse.errors import GlimpseError
from glimpse.settings import Settings


def create_app(settings: Settings, services: Services | None = None) -> Starlette:
    svc = services or build_services(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if services is None:
            svc.close()

    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(RequestContextMiddleware, authenticator=svc.auth)],
        exception_handlers={
            GlimpseError: handle_domain_error,
            HTTPException: handle_http_error,
            Exception: handle_unexpected,
        },
        lifespan=lifespan,
    )
    app.state.services = svc
    return app
