"""``/openapi.json``: this description itself, readable without a token."""

from __future__ import annotations

from typing import Any

from glimpse.api.openapi.common import json_response
from glimpse.services.schemas import Schemas


def components(schemas: Schemas) -> dict[str, Any]:
    return {}


def describe(schemas: Schemas) -> dict[str, Any]:
    return {
        "/openapi.json": {
            "get": {"operationId": "getOpenAPI", "security": [], "responses": {"200": json_response("Schema")}}
        }
    }
