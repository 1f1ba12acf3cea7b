"""``/`` and ``/versions``: the API versions, readable without a token."""

from __future__ import annotations

from typing import Any

from glimpse.api.openapi.common import json_response
from glimpse.services.schemas import Schemas


def components(schemas: Schemas) -> dict[str, Any]:
    version = {
        "type": "object",
        "properties": {"id": {"type": "string"}, "status": {"type": "string"}, "links": {"type": "array"}},
    }
    return {"Versions": {"type": "object", "properties": {"versions": {"type": "array", "items": version}}}}


def describe(schemas: Schemas) -> dict[str, Any]:
    return {
        "/": {
            "get": {
                "operationId": "listVersions",
                "security": [],
                "responses": {"300": json_response("Versions", "Multiple choices")},
            }
        },
        "/versions": {
            "get": {"operationId": "getVersions", "security": [], "responses": {"200": json_response("Versions")}}
        },
    }
