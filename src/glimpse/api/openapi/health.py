"""``/healthcheck``: the database and every store probed, readable without a token."""

from __future__ import annotations

from typing import Any

from glimpse.api.openapi.common import json_response, ref
from glimpse.services.schemas import Schemas

_STATUS = {"type": "string", "enum": ["ok", "error"]}


def components(schemas: Schemas) -> dict[str, Any]:
    return {
        "Health": {
            "type": "object",
            "required": ["status", "database", "stores"],
            "properties": {
                "status": _STATUS,
                "database": ref("ComponentHealth"),
                "stores": {"type": "object", "additionalProperties": ref("ComponentHealth")},
                "replica": {
                    **ref("ComponentHealth"),
                    "description": "The read replica ([database] slave_connection), when one is configured; "
                    "it never makes the status an error (its reads go to the primary)",
                },
            },
        },
        "ComponentHealth": {
            "type": "object",
            "required": ["status", "duration_ms"],
            "properties": {"status": _STATUS, "duration_ms": {"type": "number"}, "detail": {"type": "string"}},
        },
    }


def describe(schemas: Schemas) -> dict[str, Any]:
    return {
        "/healthcheck": {
            "get": {
                "operationId": "getHealth",
                "security": [],
                "responses": {
                    "200": json_response("Health", "The database and every store are healthy"),
                    "503": json_response("Health", "The database or a store is unhealthy"),
                },
            }
        }
    }
