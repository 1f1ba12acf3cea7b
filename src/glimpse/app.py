"""create_app(settings, services=None) -> the ASGI application."""

from __future__ import annotations

import asyncio
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
from glimpse.jobs.worker import Worker
from glimpse.settings import Settings, load_settings


def create_app(settings: Settings, services: Services | None = None) -> Starlette:
    svc = services or build_services(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        worker = None
        await svc.metadefs.resource_types.seed()
        if settings.worker_in_process:
            worker = asyncio.create_task(Worker.from_services(svc).run_forever(stop))
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                await worker
            if services is None:
                svc.close()

    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(RequestContextMiddleware, authenticator=svc.auth, metrics=svc.metrics)],
        exception_handlers={
            GlimpseError: handle_domain_error,
            HTTPException: handle_http_error,
            Exception: handle_unexpected,
        },
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False  # as Glance: /v2/images/ is 404, not a redirect
    app.state.services = svc
    return app


def app_from_environment() -> Starlette:
    """The app of one of several `glimpse serve` worker processes: settings from GLIMPSE_CONFIG and GLIMPSE_*."""
    return create_app(load_settings())
