"""``/v2/webhooks`` (a Glimpse extension): create, list, show, delete, and each webhook's delivery log."""

from __future__ import annotations

from typing import Any

from glimpse.api.openapi.common import LIMIT, MARKER, NO_CONTENT, errors, json_body, json_response, path_param
from glimpse.services.schemas import Schemas

WEBHOOK_ID = path_param("webhook_id", "Webhook id")
NULLABLE_STRING = {"type": ["string", "null"]}


def components(schemas: Schemas) -> dict[str, Any]:
    webhook = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "url": {"type": "string"},
            "events": {"type": "array", "items": {"type": "string"}},
            "description": {"type": "string"},
            "project_id": NULLABLE_STRING,
            "global": {"type": "boolean"},
            "status": {"type": "string", "enum": ["active", "disabled"]},
            "failures": {"type": "integer"},
            "disabled_reason": NULLABLE_STRING,
            "created_at": {"type": "string"},
            "updated_at": {"type": "string"},
            "self": {"type": "string"},
            "deliveries": {"type": "string"},
        },
    }
    return {
        "WebhookCreate": {
            "type": "object",
            "required": ["url"],
            "additionalProperties": False,
            "properties": {
                "url": {"type": "string", "minLength": 1, "maxLength": 2048},
                "events": {"type": "array", "minItems": 1, "maxItems": 32, "items": {"type": "string"}},
                "description": {"type": "string", "maxLength": 255},
                "global": {"type": "boolean"},
            },
        },
        "WebhookUpdate": {
            "type": "object",
            "additionalProperties": False,
            "description": "status active re-enables a disabled webhook (its failures count from 0 again)",
            "properties": {
                "status": {"type": "string", "enum": ["active", "disabled"]},
                "events": {"type": "array", "minItems": 1, "maxItems": 32, "items": {"type": "string"}},
                "description": {"type": "string", "maxLength": 255},
            },
        },
        "Webhook": webhook,
        "WebhookCreated": {
            "allOf": [{"$ref": "#/components/schemas/Webhook"}],
            "properties": {"secret": {"type": "string", "description": "shown only in this response"}},
        },
        "Webhooks": {
            "type": "object",
            "properties": {"webhooks": {"type": "array", "items": {"$ref": "#/components/schemas/Webhook"}}},
        },
        "WebhookDeliveries": {
            "type": "object",
            "properties": {
                "deliveries": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "event_id": {"type": "string"},
                            "event_type": {"type": "string"},
                            "status": {"type": "string", "enum": ["pending", "succeeded", "failed"]},
                            "attempts": {"type": "integer"},
                            "next_attempt_at": NULLABLE_STRING,
                            "last_status_code": {"type": ["integer", "null"]},
                            "last_error": NULLABLE_STRING,
                            "created_at": {"type": "string"},
                            "updated_at": {"type": "string"},
                        },
                    },
                },
                "next": {"type": "string"},
            },
        },
    }


def describe(schemas: Schemas) -> dict[str, Any]:
    return {
        "/v2/webhooks": {
            "get": {"operationId": "listWebhooks", "responses": {"200": json_response("Webhooks"), **errors(403, 404)}},
            "post": {
                "operationId": "createWebhook",
                "requestBody": json_body("WebhookCreate"),
                "responses": {"201": json_response("WebhookCreated", "Created"), **errors(403, 404, 413, 415)},
            },
        },
        "/v2/webhooks/{webhook_id}": {
            "parameters": [WEBHOOK_ID],
            "get": {"operationId": "showWebhook", "responses": {"200": json_response("Webhook"), **errors(403, 404)}},
            "patch": {
                "operationId": "updateWebhook",
                "requestBody": json_body("WebhookUpdate"),
                "responses": {"200": json_response("Webhook"), **errors(400, 403, 404, 415)},
            },
            "delete": {"operationId": "deleteWebhook", "responses": {"204": NO_CONTENT, **errors(403, 404)}},
        },
        "/v2/webhooks/{webhook_id}/deliveries": {
            "parameters": [WEBHOOK_ID],
            "get": {
                "operationId": "listWebhookDeliveries",
                "parameters": [LIMIT, MARKER],
                "responses": {"200": json_response("WebhookDeliveries"), **errors(403, 404)},
            },
        },
    }
