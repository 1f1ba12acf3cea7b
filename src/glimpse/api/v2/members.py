"""/v2/images/{id}/members."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from glimpse.api.http import context, json_object, json_response, no_content, services
from glimpse.domain.clock import isoformat
from glimpse.domain.images import Member


def member_view(member: Member) -> dict[str, Any]:
    return {
        "created_at": isoformat(member.created_at),
        "image_id": member.image_id,
        "member_id": member.member_id,
        "schema": "/v2/schemas/member",
        "status": member.status.value,
        "updated_at": isoformat(member.updated_at),
    }


async def create(request: Request) -> Response:
    body = await json_object(request)
    member = await services(request).members.create(context(request), request.path_params["image_id"], body)
    return json_response(member_view(member))


async def index(request: Request) -> Response:
    members = await services(request).members.list(context(request), request.path_params["image_id"])
    return json_response({"members": [member_view(m) for m in members], "schema": "/v2/schemas/members"})


async def show(request: Request) -> Response:
    member = await services(request).members.get(
        context(request), request.path_params["image_id"], request.path_params["member_id"]
    )
    return json_response(member_view(member))


async def update(request: Request) -> Response:
    body = await json_object(request)
    member = await services(request).members.update(
        context(request), request.path_params["image_id"], request.path_params["member_id"], body
    )
    return json_response(member_view(member))


async def delete(request: Request) -> Response:
    await services(request).members.delete(
        context(request), request.path_params["image_id"], request.path_params["member_id"]
    )
    return no_content(media_type=None)  # Glance's member delete is the one 204 that names no media type
