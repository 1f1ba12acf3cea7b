"""``/v2/images/{image_id}/members`` and one member: image sharing."""

from __future__ import annotations

from typing import Any

from glimpse.api.openapi.common import IMAGE_ID, NO_CONTENT, errors, json_body, json_response, path_param, ref, strip
from glimpse.services.schemas import Schemas

MEMBER_ID = path_param("member_id", "Member (project) id")


def components(schemas: Schemas) -> dict[str, Any]:
    return {
        "Member": strip(schemas.member),
        "Members": {
            "type": "object",
            "properties": {"members": {"type": "array", "items": ref("Member")}, "schema": {"type": "string"}},
        },
        "MemberCreate": {"type": "object", "required": ["member"], "properties": {"member": {"type": "string"}}},
        "MemberUpdate": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"type": "string", "enum": ["pending", "accepted", "rejected"]}},
        },
    }


def describe(schemas: Schemas) -> dict[str, Any]:
    return {
        "/v2/images/{image_id}/members": {
            "parameters": [IMAGE_ID],
            "get": {"operationId": "listMembers", "responses": {"200": json_response("Members"), **errors(403, 404)}},
            "post": {
                "operationId": "createMember",
                "requestBody": json_body("MemberCreate"),
                "responses": {"200": json_response("Member"), **errors(400, 403, 404, 409, 413, 415)},
            },
        },
        "/v2/images/{image_id}/members/{member_id}": {
            "parameters": [IMAGE_ID, MEMBER_ID],
            "get": {"operationId": "showMember", "responses": {"200": json_response("Member"), **errors(403, 404)}},
            "put": {
                "operationId": "updateMember",
                "requestBody": json_body("MemberUpdate"),
                "responses": {"200": json_response("Member"), **errors(400, 403, 404, 413, 415)},
            },
            "delete": {"operationId": "deleteMember", "responses": {"204": NO_CONTENT, **errors(403, 404)}},
        },
    }
