"""``/v2/schemas/{name}``: the JSON Schemas the server validates with."""

from __future__ import annotations

from typing import Any

from glimpse.api.openapi.common import errors, json_response, path_param
from glimpse.services.schemas import Schemas


def components(schemas: Schemas) -> dict[str, Any]:
    return {}


def describe(schemas: Schemas) -> dict[str, Any]:
    return {
        "/v2/schemas/{name}": {
            "parameters": [path_param("name", "image, images, member or members")],
            "get": {"operationId": "showSchema", "responses": {"200": json_response("Schema"), **errors(404)}},
        }
    }
