"""/v2/audit (a Glimpse extension, admins): the audit log, newest first, with filters and paging."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from glimpse.api.http import context, json_response, services
from glimpse.services.audit import as_json


async def index(request: Request) -> Response:
    params = list(request.query_params.multi_items())
    entries, following, limit = await services(request).audit.search(context(request), params)
    body: dict[str, Any] = {"audit": [as_json(entry) for entry in entries]}
    if following is not None:
        kept = [(k, v) for k, v in params if k not in ("marker", "limit")]
        body["next"] = "/v2/audit?" + urlencode([*kept, ("limit", str(limit)), ("marker", following)])
    return json_response(body)
