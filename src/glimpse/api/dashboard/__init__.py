"""The Applications dashboard: server-rendered pages at /dashboard over the services layer (never over Glimpse's own
HTTP API). docs/dashboard.md."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from glimpse.api.dashboard import apps, images, installs, remote, running, servers, signin, stacks
from glimpse.api.dashboard.pages import page, root_path
from glimpse.api.dashboard.session import SessionCodec
from glimpse.container import Services

PREFIX = "/dashboard"
STATIC = Path(__file__).parent / "static"


ASSETS = {path.name: path for path in STATIC.iterdir() if path.suffix in (".css", ".js")}
"""The vendored stylesheet and script, served by name only (no path from the request reaches the disk)."""


async def static(request: Request) -> Response:
    path = ASSETS.get(request.path_params["name"])
    if path is None:
        return Response(status_code=404)
    return FileResponse(path, headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"})


async def home(request: Request) -> Response:
    return RedirectResponse(root_path(request) + "/apps", status_code=303)


ROUTES: list[BaseRoute] = [
    Route("/", home, methods=["GET"]),
    Route("/login", signin.show, methods=["GET"]),
    Route("/login", signin.submit, methods=["POST"]),
    page("/logout", POST=signin.sign_out),
    page("/apps", GET=apps.index),
    page("/apps/{type_name}/{artifact_id}", GET=apps.show),
    page("/apps/heat_templates/{artifact_id}/launch", GET=stacks.launch_form, POST=stacks.launch),
    page("/remote/{catalog}/{name}/{version}", GET=remote.show),
    page("/installs", POST=installs.start),
    page("/installs/{task_id}", GET=installs.show),
    page("/installs/{task_id}/status", GET=installs.status),
    page("/running", GET=running.index),
    page("/running/{stack_id}/{action}", POST=stacks.act),
    page("/running/servers/{server_id}/{action}", POST=servers.act),
    page("/images", GET=images.index, POST=images.create),
    page("/images/new", GET=images.new),
    page("/images/{image_id}", GET=images.show),
    page("/images/{image_id}/launch", GET=servers.launch_form, POST=servers.launch),
    page("/images/{image_id}/file", PUT=images.upload),
    page("/images/{image_id}/members", POST=images.add_member),
    page("/images/{image_id}/members/{member_id}/delete", POST=images.remove_member),
    page("/images/{image_id}/members/{member_id}/status", POST=images.member_status),
    page("/images/{image_id}/deactivate", POST=images.deactivate),
    page("/images/{image_id}/reactivate", POST=images.reactivate),
    page("/images/{image_id}/delete", POST=images.delete),
    Route("/static/{name}", static, methods=["GET"]),
]


def create_dashboard_app(services: Services) -> Starlette:
    app = Starlette(routes=ROUTES)
    app.router.redirect_slashes = False
    app.state.services = services
    app.state.sessions = SessionCodec.from_settings(services.settings)
    return app
