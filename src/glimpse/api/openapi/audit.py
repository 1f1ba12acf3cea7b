"""``/v2/audit`` (a Glimpse extension, admins): the audit log with filters and paging."""

from __future__ import annotations

from typing import Any

from glimpse.api.openapi.common import LIMIT, MARKER, errors, json_response
from glimpse.services.audit import FILTERS
from glimpse.services.schemas import Schemas

NULLABLE_STRING = {"type": ["string", "null"]}


def components(schemas: Schemas) -> dict[str, Any]:
    entry = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "created_at": {"type": "string"},
            "request_id": {"type": "string"},
            "user_id": NULLABLE_STRING,
            "project_id": NULLABLE_STRING,
            "roles": {"type": "array", "items": {"type": "string"}},
            "method": {"type": "string"},
            "action": {"type": "string"},
            "path": {"type": "string"},
            "target": NULLABLE_STRING,
            "status": {"type": "integer"},
            "outcome": {"type": "string", "enum": ["success", "denied", "failure"]},
        },
    }
    return {
        "AuditLog": {
            "type": "object",
            "properties": {"audit": {"type": "array", "items": entry}, "next": {"type": "string"}},
        }
    }


def describe(schemas: Schemas) -> dict[str, Any]:
    filters = [{"name": name, "in": "query", "schema": {"type": "string"}} for name in (*FILTERS, "since", "until")]
    return {
        "/v2/audit": {
            "get": {
                "operationId": "listAuditLog",
                "parameters": [*filters, LIMIT, MARKER],
                "responses": {"200": json_response("AuditLog"), **errors(403)},
            }
        }
    }
