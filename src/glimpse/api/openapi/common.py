"""Pieces every resource's description uses: the error responses, path parameters, request bodies, the
components shared by several resources, and the shape a resource module has (:class:`Resource`)."""

from __future__ import annotations

import copy
from typing import Any, Protocol

from glimpse.services.schemas import Schemas

ERROR = {
    "description": "Error (webob-style body: text/plain by default, JSON with Accept: application/json)",
    "content": {
        "text/plain": {"schema": {"type": "string"}},
        "text/html": {"schema": {"type": "string"}},
        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}},
    },
}
NO_CONTENT = {"description": "No content"}
ACCEPTED = {"description": "Accepted"}
BINARY = {"schema": {"type": "string", "format": "binary"}}
OCTETS = {"required": True, "content": {"application/octet-stream": BINARY}}
IMAGE_SIZE = {"name": "x-openstack-image-size", "in": "header", "schema": {"type": "integer", "minimum": 0}}
LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0}}
MARKER = {"name": "marker", "in": "query", "schema": {"type": "string"}}
SORT_DIR = {"name": "sort_dir", "in": "query", "schema": {"type": "string", "enum": ["asc", "desc"]}}


class Resource(Protocol):
    """A module describing one resource: its OpenAPI components and its paths."""

    def components(self, schemas: Schemas) -> dict[str, Any]: ...

    def describe(self, schemas: Schemas) -> dict[str, Any]: ...


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_response(name: str, description: str = "OK") -> dict[str, Any]:
    """A response whose JSON body is the component ``name``."""
    return {"description": description, "content": {"application/json": {"schema": ref(name)}}}


def json_body(name: str) -> dict[str, Any]:
    """A required JSON request body holding the component ``name``."""
    return {"required": True, "content": {"application/json": {"schema": ref(name)}}}


def errors(*codes: int) -> dict[str, Any]:
    # any request may be malformed (400), lack a valid token (401) or meet an unavailable database (503)
    return {str(code): ERROR for code in sorted({400, 401, 503, *codes})}


def path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1},
        "description": description,
    }


IMAGE_ID = path_param("image_id", "Image id")


def strip(schema: dict[str, Any]) -> dict[str, Any]:
    """A served Glance schema as an OpenAPI 3.1 (JSON Schema 2020-12) component."""
    result = copy.deepcopy(schema)
    result.pop("links", None)
    result["title"] = result.pop("name", "")
    return result


def shared_components() -> dict[str, Any]:
    """The components several resources refer to."""
    return {
        "Schema": {"type": "object"},
        "Error": {
            "type": "object",
            "properties": {"message": {"type": "string"}, "code": {"type": "string"}, "title": {"type": "string"}},
        },
    }
