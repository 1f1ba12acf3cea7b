"""Launching a stack from a local Heat-template asset, and the stack actions of Running Apps (delete, suspend,
resume). Each handler parses, makes one service call
(``StackService``, which talks to Heat as the signed-in person) and renders or redirects."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from glimpse.api.dashboard.pages import Call
from glimpse.api.errors import status_for
from glimpse.errors import GlimpseError, NotFound, Unauthorized
from glimpse.services.stacks import (
    ENVIRONMENT_TYPE,
    TEMPLATE_TYPE,
    LaunchRequest,
    parse_parameters,
)

SHOWN_ENVIRONMENTS = 50


async def _environments(call: Call, asset: dict[str, Any]) -> list[dict[str, str]]:
    """The environments to offer: the ones the template links first, then others the person may see."""
    offered: dict[str, dict[str, str]] = {}
    linked = asset.get("environments") or {}
    for label, link in sorted(linked.items()) if isinstance(linked, dict) else ():
        env_id = str(link).rstrip("/").rsplit("/", 1)[-1]
        offered[env_id] = {"id": env_id, "label": f"{label} (linked)"}
    try:
        page = await call.svc.artifacts.list(call.ctx, ENVIRONMENT_TYPE, [("limit", str(SHOWN_ENVIRONMENTS))])
    except GlimpseError:  # the type is not enabled, or listing is not allowed
        return list(offered.values())
    for env in page.artifacts:
        offered.setdefault(str(env["id"]), {"id": str(env["id"]), "label": f"{env['name']} {env.get('version', '')}"})
    return list(offered.values())


async def launch_form(call: Call, error: str = "", code: int = 200) -> Response:
    artifact_id = call.request.path_params["artifact_id"]
    asset = await call.svc.artifacts.show(call.ctx, TEMPLATE_TYPE, artifact_id)
    return call.render(
        "launch.html", code, asset=asset, environments=await _environments(call, asset), error=error,
        configured=call.svc.stacks.configured, auth=call.svc.settings.auth, form=call.form,
    )  # fmt: skip


async def launch(call: Call) -> Response:
    """Create the stack as the signed-in person; a refusal (Heat's or ours) shows the form again with it."""
    form = call.form
    try:
        request = LaunchRequest(
            artifact_id=call.request.path_params["artifact_id"],
            environment_id=form.get("environment", "").strip(),
            name=form.get("name", "").strip(),
            parameters=parse_parameters(form.get("parameters", "")),
        )
        stack = await call.svc.stacks.launch(call.ctx, request)
    except (NotFound, Unauthorized):  # no such asset (a 404 page), a session to renew
        raise
    except GlimpseError as exc:
        return await launch_form(call, exc.message, status_for(exc))
    return call.redirect("/running", launched=stack.name)


async def act(call: Call) -> Response:
    """Delete, suspend or resume one of the project's stacks launched from an asset."""
    stack_id, action = call.request.path_params["stack_id"], call.request.path_params["action"]
    await call.svc.stacks.act(call.ctx, stack_id, action)
    return call.redirect("/running", done=action)
