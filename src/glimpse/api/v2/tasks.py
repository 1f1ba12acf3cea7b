"""/v2/tasks and /v2/images/{id}/tasks."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from glimpse.api.http import context, json_object, json_response, services
from glimpse.domain.clock import isoformat
from glimpse.domain.tasks import Task


def task_view(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "type": task.type.value,
        "status": task.status.value,
        "owner": task.owner,
        "input": task.input,
        "result": task.result,
        "message": task.message,
        "image_id": task.image_id,
        "user_id": task.user_id,
        "request_id": task.request_id,
        "expires_at": isoformat(task.expires_at) if task.expires_at else None,
        "created_at": isoformat(task.created_at),
        "updated_at": isoformat(task.updated_at),
        "progress": {"bytes_done": task.bytes_done, "bytes_total": task.bytes_total},
        "self": f"/v2/tasks/{task.id}",
        "schema": "/v2/schemas/task",
    }


STUB_OMITS = ("input", "result", "message")  # a listed task, as Glance's: without its blobs


def task_stub(task: Task) -> dict[str, Any]:
    view = task_view(task)
    for name in STUB_OMITS:
        del view[name]
    return view


async def index(request: Request) -> Response:
    params = list(request.query_params.multi_items())
    tasks, next_marker = await services(request).tasks.search(context(request), params)
    kept = [(k, v) for k, v in params if k != "marker"]
    body: dict[str, Any] = {
        "tasks": [task_stub(t) for t in tasks],
        "first": "/v2/tasks" + (f"?{urlencode(kept)}" if kept else ""),  # as Glance: the query without marker
        "schema": "/v2/schemas/tasks",
    }
    if next_marker is not None:
        body["next"] = "/v2/tasks?" + urlencode([*kept, ("marker", next_marker)])
    return json_response(body)


async def create(request: Request) -> Response:
    task = await services(request).tasks.create(context(request), await json_object(request))
    return json_response(task_view(task), 201)


async def show(request: Request) -> Response:
    task = await services(request).tasks.get(context(request), request.path_params["task_id"])
    return json_response(task_view(task))


async def for_image(request: Request) -> Response:
    tasks = await services(request).tasks.for_image(context(request), request.path_params["image_id"])
    return json_response({"tasks": [task_view(t) for t in tasks]})
