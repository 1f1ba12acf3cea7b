"""``/v2/tasks``, one task, and ``/v2/images/{image_id}/tasks``."""

from __future__ import annotations

from typing import Any

from glimpse.api.openapi.common import (
    IMAGE_ID,
    LIMIT,
    MARKER,
    SORT_DIR,
    errors,
    json_body,
    json_response,
    path_param,
    ref,
)
from glimpse.services.schemas import Schemas


def components(schemas: Schemas) -> dict[str, Any]:
    return {
        "Task": {
            "type": "object",
            "required": ["id", "type", "status"],
            "properties": {
                "id": {"type": "string"},
                "type": {"type": "string", "enum": ["import", "api_image_import", "location_import"]},
                "status": {"type": "string", "enum": ["pending", "processing", "success", "failure"]},
                "input": {"type": "object"},
                "result": {"type": ["object", "null"]},
                "message": {"type": "string"},
            },
        },
        "TaskCreate": {
            "type": "object",
            "required": ["type", "input"],
            "properties": {"type": {"type": "string"}, "input": {"type": "object"}},
        },
        "Tasks": {"type": "object", "properties": {"tasks": {"type": "array", "items": ref("Task")}}},
    }


def describe(schemas: Schemas) -> dict[str, Any]:
    return {
        "/v2/images/{image_id}/tasks": {
            "parameters": [IMAGE_ID],
            "get": {"operationId": "listImageTasks", "responses": {"200": json_response("Tasks"), **errors(403, 404)}},
        },
        "/v2/tasks": {
            "get": {
                "operationId": "listTasks",
                "parameters": [
                    LIMIT,
                    MARKER,
                    SORT_DIR,
                    {"name": "status", "in": "query", "schema": {"type": "string"}},
                    {"name": "type", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {"200": json_response("Tasks"), **errors(403)},
            },
            "post": {
                "operationId": "createTask",
                "requestBody": json_body("TaskCreate"),
                "responses": {"201": json_response("Task", "Created"), **errors(403, 409, 413, 415)},
            },
        },
        "/v2/tasks/{task_id}": {
            "parameters": [path_param("task_id", "Task id")],
            "get": {"operationId": "showTask", "responses": {"200": json_response("Task"), **errors(403, 404)}},
        },
    }
