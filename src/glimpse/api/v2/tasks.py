"""/v2/tasks and /v2/images/{id}/tasks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from glimpse.api.http import context, json_object, json_response, services
from glimpse.domain.clock import isoformat
from glimpse.domain.tasks import Task, TaskStatus, TaskType

MIB = 1024 * 1024
# what Glance keeps of an import task's input and result; Glimpse's own bookkeeping stays out of sight
IMPORT_INPUT = ("image_id", "import_req", "backend")
IMPORT_RESULT = ("image_id",)


def _fields(task: Task) -> tuple[Any, Any, str]:
    """The task's input, result and message as Glance shows them."""
    if task.type != TaskType.API_IMAGE_IMPORT:
        return task.input, task.result, task.message
    shown_input = {key: task.input[key] for key in IMPORT_INPUT if key in task.input}
    result = {key: task.result[key] for key in IMPORT_RESULT if key in task.result} if task.result else task.result
    message = task.message
    if not message and task.status in (TaskStatus.PROCESSING, TaskStatus.SUCCESS) and task.bytes_done is not None:
        message = f"Copied {task.bytes_done // MIB} MiB"  # Glance's progress report, kept once it succeeded
    return shown_input, result, message


def _common(task: Task, when: Callable[[datetime | None], str | None]) -> dict[str, Any]:
    """The keys both task forms share, times written by ``when``."""
    shown_input, result, message = _fields(task)
    return {
        "id": task.id,
        "type": task.type.value,
        "status": task.status.value,
        "owner": task.owner,
        "input": shown_input,
        "result": result,
        "message": message,
        "image_id": task.image_id,
        "user_id": task.user_id,
        "request_id": task.request_id,
        "expires_at": when(task.expires_at),
        "created_at": when(task.created_at),
        "updated_at": when(task.updated_at),
    }


def _api_time(value: datetime | None) -> str | None:
    return isoformat(value) if value else None


def task_view(task: Task) -> dict[str, Any]:
    return {**_common(task, _api_time), "self": f"/v2/tasks/{task.id}", "schema": "/v2/schemas/task"}


def _raw_time(value: datetime | None) -> str | None:
    """A time as Glance's database rows read: naive UTC, microseconds, no zone."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") if value else None


def image_task_view(task: Task) -> dict[str, Any]:
    """A task in ``GET /v2/images/{id}/tasks``: Glance answers with its database rows as they are."""
    return {**_common(task, _raw_time), "deleted": False, "deleted_at": None}


# a listed task, as Glance's: without its blobs and without whose and which image it is
STUB_OMITS = ("input", "result", "message", "image_id", "user_id", "request_id")


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
    return json_response({"tasks": [image_task_view(t) for t in tasks]})
