"""Running Apps: what the person's project launched from assets, as the cloud reports it now: stacks (Heat) and
servers (Nova), each list from its own service, so one service out of reach leaves the other listed."""

from __future__ import annotations

from starlette.responses import Response

from glimpse.api.dashboard.pages import Call
from glimpse.errors import ComputeUnavailable, OrchestrationUnavailable
from glimpse.services.servers import RunningServer
from glimpse.services.stacks import RunningStack


async def index(call: Call) -> Response:
    stacks: list[RunningStack] = []
    servers: list[RunningServer] = []
    unavailable = servers_unavailable = ""
    if call.svc.stacks.configured:
        try:
            stacks = await call.svc.stacks.running(call.ctx)
        except OrchestrationUnavailable as exc:
            unavailable = exc.message
        try:
            servers = await call.svc.servers.running(call.ctx)
        except ComputeUnavailable as exc:
            servers_unavailable = exc.message
    return call.render(
        "running.html", stacks=stacks, servers=servers, configured=call.svc.stacks.configured,
        unavailable=unavailable, servers_unavailable=servers_unavailable, auth=call.svc.settings.auth,
        launched=call.query("launched"), done=call.query("done"), launched_server=call.query("launched_server"),
        done_server=call.query("done_server"),
    )  # fmt: skip
