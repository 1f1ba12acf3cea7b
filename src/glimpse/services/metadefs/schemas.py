"""The ten JSON Schemas served at ``/v2/schemas/metadefs/*``; requests are validated against them.

Same names, fields, types and limits as Glance's, so python-glanceclient (which builds its ``md-*``
arguments from them) and Horizon read them unchanged; the descriptions are Glimpse's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match

from glimpse.errors import BadRequest

_TYPES = ["array", "boolean", "integer", "number", "object", "string", None]
_READ_ONLY_TEXT = {"type": "string", "readOnly": True}


def _timestamp(text: str) -> dict[str, Any]:
    return {"type": "string", "readOnly": True, "format": "date-time", "description": text}


def definitions() -> dict[str, Any]:
    """What a property definition may say: a small JSON Schema of its own."""
    count = {"type": "integer", "minimum": 0}
    count_from_zero = {"allOf": [{"$ref": "#/definitions/positiveInteger"}, {"default": 0}]}
    return {
        "positiveInteger": count,
        "positiveIntegerDefault0": count_from_zero,
        "stringArray": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "property": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["title", "type"],
                "properties": _property_fields(),
            },
        },
    }


def _property_fields() -> dict[str, Any]:
    return {
        "name": {"type": "string", "maxLength": 80},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "operators": {"type": "array", "items": {"type": "string"}},
        "type": {"type": "string", "enum": _TYPES},
        "required": {"$ref": "#/definitions/stringArray"},
        "minimum": {"type": "number"},
        "maximum": {"type": "number"},
        "maxLength": {"$ref": "#/definitions/positiveInteger"},
        "minLength": {"$ref": "#/definitions/positiveIntegerDefault0"},
        "pattern": {"type": "string", "format": "regex"},
        "enum": {"type": "array"},
        "readonly": {"type": "boolean"},
        "default": {},
        "items": {
            "type": "object",
            "properties": {"type": {"type": "string", "enum": _TYPES}, "enum": {"type": "array"}},
        },
        "maxItems": {"$ref": "#/definitions/positiveInteger"},
        "minItems": {"$ref": "#/definitions/positiveIntegerDefault0"},
        "uniqueItems": {"type": "boolean", "default": False},
        "additionalItems": {"type": "boolean"},
    }


def _association_fields() -> dict[str, Any]:
    return {
        "name": {
            "type": "string",
            "maxLength": 80,
            "description": "A resource type name, as Heat names them (OS::Glance::Image, OS::Nova::Server...).",
        },
        "prefix": {
            "type": "string",
            "maxLength": 80,
            "description": "What the namespace's property names are prefixed with on this resource type "
            "(for example 'hw_' on images); empty for none.",
        },
        "properties_target": {
            "type": "string",
            "maxLength": 80,
            "description": "Where on the resource the properties go, when it has several key/value places "
            "(Cinder volumes: 'image' or 'volume').",
        },
        "created_at": _timestamp("When the association was made"),
        "updated_at": _timestamp("When the association last changed"),
    }


def _collection(name: str, item_key: str, item: dict[str, Any], *, paged: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {item_key: {"type": "array", "items": item}, "schema": {"type": "string"}}
    links = [{"rel": "describedby", "href": "{schema}"}]
    if paged:
        properties.update({"first": {"type": "string"}, "next": {"type": "string"}})
        links = [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"}, *links]
    schema = {"name": name, "properties": properties, "links": links}
    if "definitions" in item:
        schema["definitions"] = item["definitions"]
    return schema


@cache
def served() -> dict[str, dict[str, Any]]:
    """name (as in /v2/schemas/metadefs/<name>) -> schema."""
    namespace: dict[str, Any] = {
        "name": "namespace",
        "properties": {
            "namespace": {"type": "string", "maxLength": 80, "description": "The namespace's unique name."},
            "display_name": {"type": "string", "maxLength": 80, "description": "A friendlier name for display."},
            "description": {"type": "string", "maxLength": 500, "description": "What the namespace is about."},
            "visibility": {
                "type": "string",
                "enum": ["public", "private"],
                "description": "public: every project reads it; private: its owner only.",
            },
            "protected": {"type": "boolean", "description": "A protected namespace cannot be deleted."},
            "owner": {"type": "string", "maxLength": 255, "description": "The project owning the namespace."},
            "created_at": _timestamp("When the namespace was created"),
            "updated_at": _timestamp("When the namespace last changed"),
            "schema": _READ_ONLY_TEXT,
            "self": _READ_ONLY_TEXT,
            "resource_type_associations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "prefix": {"type": "string"},
                        "properties_target": {"type": "string"},
                    },
                },
            },
            "properties": {"$ref": "#/definitions/property"},
            "objects": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "description": {"type": "string"},
                        "required": {"$ref": "#/definitions/stringArray"},
                        "properties": {"$ref": "#/definitions/property"},
                    },
                },
            },
            "tags": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
        },
        "additionalProperties": False,
        "required": ["namespace"],
        "definitions": definitions(),
    }
    obj: dict[str, Any] = {
        "name": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 80},
            "description": {"type": "string"},
            "required": {"$ref": "#/definitions/stringArray"},
            "properties": {"$ref": "#/definitions/property"},
            "schema": _READ_ONLY_TEXT,
            "self": _READ_ONLY_TEXT,
            "created_at": _timestamp("When the object was created"),
            "updated_at": _timestamp("When the object last changed"),
        },
        "additionalProperties": False,
        "required": ["name"],
        "definitions": definitions(),
    }
    prop: dict[str, Any] = {
        "name": "property",
        "properties": _property_fields(),
        "additionalProperties": False,
        "required": ["name", "title", "type"],
        "definitions": {k: v for k, v in definitions().items() if k != "property"},
    }
    tag: dict[str, Any] = {
        "name": "tag",
        "properties": {
            "name": {"type": "string", "maxLength": 80},
            "created_at": _timestamp("When the tag was created"),
            "updated_at": _timestamp("When the tag last changed"),
        },
        "additionalProperties": False,
        "required": ["name"],
    }
    association: dict[str, Any] = {
        "name": "resource_type_association",
        "properties": _association_fields(),
        "additionalProperties": False,
        "required": ["name"],
    }
    properties_collection: dict[str, Any] = {
        "name": "properties",
        "properties": {
            "properties": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "required": ["title", "type"],
                    "properties": _property_fields(),
                },
            },
            "schema": {"type": "string"},
        },
        "links": [{"rel": "describedby", "href": "{schema}"}],
        "definitions": prop["definitions"],
    }
    return {
        "namespace": namespace,
        "namespaces": _collection("namespaces", "namespaces", namespace, paged=True),
        "object": obj,
        "objects": _collection("objects", "objects", obj, paged=True),
        "property": prop,
        "properties": properties_collection,
        "tag": tag,
        "tags": _collection("tags", "tags", tag, paged=True),
        "resource_type": association,
        "resource_types": _collection("resource_type_associations", "resource_type_associations", association,
                                      paged=True),
    }  # fmt: skip


@cache
def _validator(name: str) -> Draft4Validator:
    return Draft4Validator(served()[name])


def validate(name: str, document: Mapping[str, Any]) -> None:
    """Refuse a request body that does not match the served schema ``name`` (400, as Glance words it)."""
    error = best_match(_validator(name).iter_errors(dict(document)))
    if error is not None:
        raise BadRequest(f"Provided object does not match schema '{served()[name]['name']}': {error.message}")


def validate_definition(name: str, definition: Mapping[str, Any]) -> None:
    """A single property definition (as inside a namespace's or an object's ``properties``)."""
    validate("property", {**definition, "name": name})
