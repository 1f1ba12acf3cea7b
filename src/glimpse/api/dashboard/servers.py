"""Launching a server from a local image, and the server actions of Running Apps (stop, start, delete). Each handler
parses, makes one or two service calls (``ServerService``, which talks to Nova as the signed-in person) and renders
or redirects."""

from __future__ import annotations

from starlette.responses import Response

from glimpse.api.dashboard.pages import Call
from glimpse.api.errors import status_for
from glimpse.errors import ComputeUnavailable, GlimpseError, NotFound, Unauthorized
from glimpse.services.servers import Flavor, ServerRequest, image_asset


async def launch_form(call: Call, error: str = "", code: int = 200) -> Response:
    image = await call.svc.images.get(call.ctx, call.request.path_params["image_id"])
    flavors: list[Flavor] = []
    if call.svc.servers.configured:
        try:
            flavors = await call.svc.servers.flavors(call.ctx)
        except ComputeUnavailable as exc:
            error, code = error or exc.message, code if error else 503
    asset, version = image_asset(image)
    return call.render(
        "launch_server.html", code, image=image, asset=asset, version=version, flavors=flavors, error=error,
        configured=call.svc.servers.configured, auth=call.svc.settings.auth, form=call.form,
    )  # fmt: skip


async def launch(call: Call) -> Response:
    """Boot the server as the signed-in person; a refusal (Nova's or ours) shows the form again with it."""
    form = call.form
    try:
        request = ServerRequest(
            image_id=call.request.path_params["image_id"],
            flavor_id=form.get("flavor", "").strip(),
            name=form.get("name", "").strip(),
        )
        server = await call.svc.servers.launch(call.ctx, request)
    except (NotFound, Unauthorized):  # no such image (a 404 page), a session to renew
        raise
    except GlimpseError as exc:
        return await launch_form(call, exc.message, status_for(exc))
    return call.redirect("/running", launched_server=server.name)


async def act(call: Call) -> Response:
    """Stop, start or delete one of the project's servers launched from an image."""
    server_id, action = call.request.path_params["server_id"], call.request.path_params["action"]
    await call.svc.servers.act(call.ctx, server_id, action)
    return call.redirect("/running", done_server=action)
