"""create_app(settings, services=None) -> the ASGI application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Protocol

from starlette import routing
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from glimpse.api.artifacts import errors as artifact_errors
from glimpse.api.artifacts.routes import PUBLIC_PATHS as ARTIFACT_PUBLIC_PATHS
from glimpse.api.artifacts.routes import ROUTES as ARTIFACT_ROUTES
from glimpse.api.artifacts.versions import VersionMiddleware
from glimpse.api.dashboard import PREFIX as DASHBOARD_PREFIX
from glimpse.api.dashboard import create_dashboard_app
from glimpse.api.errors import handle_domain_error, handle_http_error, handle_unexpected
from glimpse.api.middleware import RequestContextMiddleware
from glimpse.api.routes import ROUTES
from glimpse.container import Services, build_services
from glimpse.domain.tasks import TaskType
from glimpse.errors import GlimpseError
from glimpse.jobs.worker import Worker, until_either
from glimpse.services.task_queue import Runner
from glimpse.settings import Settings, load_settings

CATALOG_REPOSITORY = "/catalog/v1/repository"
"""Where ``[catalog] serve_dir``'s signed repository is served (TUF clients add metadata/ and targets/)."""


class WorkerProcess(Protocol):
    """The task worker of `glimpse serve` in a child process (cli/workerchild.py)."""

    def wake(self) -> None:
        """A task was committed here: look for it now."""

    def stop(self) -> None:
        """Stop it, waiting for the task it runs (blocking)."""


def create_app(
    settings: Settings, services: Services | None = None, *, worker: WorkerProcess | None = None
) -> Starlette:
    """``worker``: woken after each task this process commits, stopped when the app stops (before uvicorn
    re-raises the signal that stopped it)."""
    svc = services or build_services(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        in_process = None
        await svc.metadefs.resource_types.seed()
        background = [asyncio.create_task(svc.audit.run(stop)), asyncio.create_task(svc.outbox.kicking(stop))]
        if settings.worker_in_process:
            in_process = asyncio.create_task(Worker.from_services(svc).run_forever(stop))
        elif worker is not None:
            background.append(asyncio.create_task(_relay_wakeups(svc.queue.wakeup, worker.wake, stop)))
        try:
            yield
        finally:
            stop.set()
            if in_process is not None:
                await in_process
            if worker is not None:
                await asyncio.to_thread(worker.stop)
            await asyncio.gather(*background)
            if services is None:
                svc.close()

    middleware = [
        Middleware(RequestContextMiddleware, authenticator=svc.auth, metrics=svc.metrics,
                   image_cache=settings.image_cache_dir is not None, audit=svc.audit)
    ]  # fmt: skip
    if settings.catalog_serve_dir is not None:  # a published catalog: static signed files, no token needed
        static = StaticFiles(directory=settings.catalog_serve_dir / "repository", check_dir=False)
        repository = Starlette(routes=[routing.Mount("/", app=static)])  # answers 404/405 itself
        middleware.insert(0, Middleware(Mount, prefix=CATALOG_REPOSITORY, inner=repository))
    if settings.artifacts_mount:  # the artifacts API in this process, outside the Images API's negotiation
        middleware.insert(
            0, Middleware(Mount, prefix=settings.artifacts_mount, inner=create_artifacts_app(settings, svc))
        )
    if settings.dashboard_enabled:  # the web UI, with its own sign-in (a session cookie, not X-Auth-Token)
        # its own sign-in, but the same request id, access line, metrics and audit entries as the API
        dashboard = RequestContextMiddleware(
            create_dashboard_app(svc), authenticator=svc.auth, metrics=svc.metrics, negotiate_versions=False,
            audit=svc.audit, authenticate=False, label_prefix=DASHBOARD_PREFIX,
        )  # fmt: skip
        middleware.insert(0, Middleware(Mount, prefix=DASHBOARD_PREFIX, inner=dashboard))
    app = Starlette(
        routes=ROUTES,
        middleware=middleware,
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


async def _relay_wakeups(wakeup: asyncio.Event, wake: Callable[[], None], stop: asyncio.Event) -> None:
    """Pass each of this process's task wake-ups on to a worker elsewhere, until ``stop``."""
    while True:
        await until_either(stop, wakeup)
        if stop.is_set():
            return
        wakeup.clear()
        wake()


def create_artifacts_app(settings: Settings, services: Services | None = None) -> Starlette:
    """The artifacts API (Glare's v1) as its own app, on the same services (auth, policy, database, stores)."""
    svc = services or build_services(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        worker = None
        background = [asyncio.create_task(svc.audit.run(stop)), asyncio.create_task(svc.outbox.kicking(stop))]
        if settings.worker_in_process:  # scrubs delayed deletes, deletes the data nothing references any more
            runners: dict[TaskType, Runner] = {
                TaskType.ARTIFACT_BLOB_DELETE: svc.artifact_blobs.objects,
                TaskType.ARTIFACT_SCRUB: svc.artifact_scrubber,
            }
            blob_worker = Worker(
                svc.queue, runners, poll_interval=settings.task_heartbeat_interval, only_own_types=True
            )
            worker = asyncio.create_task(blob_worker.run_forever(stop))
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                await worker
            await asyncio.gather(*background)
            if services is None:
                svc.close()

    app = Starlette(
        routes=ARTIFACT_ROUTES,
        middleware=[
            Middleware(
                RequestContextMiddleware,
                authenticator=svc.auth,
                metrics=svc.metrics,
                public_paths=ARTIFACT_PUBLIC_PATHS,
                negotiate_versions=False,
                audit=svc.audit,
            ),
            Middleware(VersionMiddleware),
        ],
        exception_handlers={
            GlimpseError: artifact_errors.handle_domain_error,
            HTTPException: artifact_errors.handle_http_error,
            Exception: artifact_errors.handle_unexpected,
        },
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    app.state.services = svc
    return app


class Mount:
    """Hands requests under ``prefix`` to ``inner`` (the path made relative, the prefix added to root_path)."""

    def __init__(self, app: ASGIApp, prefix: str, inner: ASGIApp) -> None:
        self.app = app
        self.prefix = "/" + prefix.strip("/")
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and (path == self.prefix or path.startswith(self.prefix + "/")):
            scope = {
                **scope,
                "path": path[len(self.prefix) :] or "/",
                "root_path": scope.get("root_path", "") + self.prefix,
            }
            await self.inner(scope, receive, send)
            return
        await self.app(scope, receive, send)


def artifacts_app_from_environment() -> Starlette:
    """The app of one of several `glimpse artifacts serve` worker processes."""
    from glimpse.logs import configure_logging

    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level, settings.secrets())  # a new process: masked too
    return create_artifacts_app(settings)


def app_from_environment() -> Starlette:
    """The app of one of several `glimpse serve` worker processes: settings from GLIMPSE_CONFIG and GLIMPSE_*."""
    from glimpse.logs import configure_logging

    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level, settings.secrets())  # a new process: masked too
    return create_app(settings)
