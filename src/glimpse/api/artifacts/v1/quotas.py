"""PUT/GET /quotas (every project's own quotas and the configured ones) and GET /project-quotas[/{project_id}]
(the quotas that apply to one project), in Glare's list form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from glimpse.api.artifacts.v1.artifacts import artifact_response, read_json
from glimpse.api.http import context, services


def _listed(quotas: Mapping[str, Mapping[str, int]]) -> list[dict[str, Any]]:
    return [
        {
            "project_id": project_id,
            "project_quotas": [{"quota_name": name, "quota_value": value} for name, value in values.items()],
        }
        for project_id, values in quotas.items()
    ]


async def update(request: Request) -> Response:
    body = await read_json(request, "application/json")
    await services(request).artifacts.quotas.set_quotas(context(request), body)
    return artifact_response(None)


async def index(request: Request) -> Response:
    found = await services(request).artifacts.quotas.list_all(context(request))
    return artifact_response({**found, "quotas": _listed(found["quotas"])})


async def project(request: Request) -> Response:
    project_id = request.path_params.get("project_id")
    return artifact_response(
        _listed(await services(request).artifacts.quotas.list_project(context(request), project_id))
    )
