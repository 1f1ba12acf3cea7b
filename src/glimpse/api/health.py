"""GET /healthcheck: 200 when the database and every store answer, 503 with the failing parts when not.

Like /versions it needs no token (load balancers and orchestrators probe it). The JSON body lists each
component, so a 503 says which one failed.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from glimpse.api.http import json_response, services


async def show(request: Request) -> Response:
    report = await services(request).health.check()
    return json_response(report.as_dict(), status=200 if report.healthy else 503, headers={"Cache-Control": "no-store"})
