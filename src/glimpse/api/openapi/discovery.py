"""``/v2/info/stores`` (and its detail) and ``/v2/info/usage``."""

from __future__ import annotations

from typing import Any

from glimpse.api.openapi.common import errors, json_response
from glimpse.services.schemas import Schemas


def components(schemas: Schemas) -> dict[str, Any]:
    return {
        "Stores": {"type": "object", "properties": {"stores": {"type": "array", "items": {"type": "object"}}}},
        "Usage": {
            "type": "object",
            "required": ["usage"],
            "properties": {
                "usage": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "required": ["limit", "usage"],
                        "properties": {"limit": {"type": "integer"}, "usage": {"type": "integer"}},
                    },
                }
            },
        },
    }


def describe(schemas: Schemas) -> dict[str, Any]:
    return {
        "/v2/info/stores": {
            "get": {"operationId": "listStores", "responses": {"200": json_response("Stores"), **errors()}}
        },
        "/v2/info/stores/detail": {
            "get": {"operationId": "listStoresDetail", "responses": {"200": json_response("Stores"), **errors(403)}}
        },
        "/v2/info/usage": {
            "get": {"operationId": "getUsage", "responses": {"200": json_response("Usage"), **errors(403)}}
        },
    }
