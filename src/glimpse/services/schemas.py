"""The JSON Schemas served at /v2/schemas/*, which the server validates its own requests against."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match

from glimpse.domain.images import MemberStatus, Status, Visibility
from glimpse.errors import BadRequest
from glimpse.settings import Settings

_UUID = "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"
_TIMESTAMP = {"type": "string", "readOnly": True}


def _ro(schema: dict[str, Any], text: str) -> dict[str, Any]:
    return {**schema, "readOnly": True, "description": text}


class Schemas:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def image(self) -> dict[str, Any]:
        s = self.settings
        properties: dict[str, Any] = {
            "id": {"type": "string", "pattern": _UUID, "description": "An identifier for the image"},
            "name": {"type": ["null", "string"], "maxLength": 255, "description": "Descriptive name for the image"},
            "status": _ro({"type": "string", "enum": [x.value for x in Status]}, "Status of the image"),
            "visibility": {
                "type": "string",
                "enum": [x.value for x in Visibility],
                "description": "Scope of image accessibility",
            },
            "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
            "os_hidden": {
                "type": "boolean",
                "description": "If true, image will not appear in default image list response.",
            },
            "checksum": _ro({"type": ["null", "string"], "maxLength": 32}, "MD5 of the image data (legacy)"),
            "os_hash_algo": _ro(
                {"type": ["null", "string"], "maxLength": 64}, "Algorithm used to compute os_hash_value"
            ),
            "os_hash_value": _ro(
                {"type": ["null", "string"], "maxLength": 128},
                "Hex digest of the image data computed with os_hash_algo",
            ),
            "owner": {"type": ["null", "string"], "maxLength": 255, "description": "Owner of the image"},
            "size": _ro({"type": ["null", "integer"]}, "Size of image file in bytes"),
            "virtual_size": _ro({"type": ["null", "integer"]}, "Virtual size of image in bytes"),
            "container_format": {
                "type": ["null", "string"],
                "enum": [None, *s.container_formats],
                "description": "Format of the container",
            },
            "disk_format": {
                "type": ["null", "string"],
                "enum": [None, *s.disk_formats],
                "description": "Format of the disk",
            },
            "created_at": {**_TIMESTAMP, "description": "Date and time of image registration"},
            "updated_at": {**_TIMESTAMP, "description": "Date and time of the last image modification"},
            "tags": {
                "type": "array",
                "items": {"type": "string", "maxLength": 255},
                "description": "List of strings related to the image",
            },
            "direct_url": _ro({"type": "string"}, "URL to access the image file kept in external store"),
            "min_ram": {
                "type": "integer",
                "minimum": 0,
                "maximum": 2147483647,
                "description": "Amount of ram (in MB) required to boot image.",
            },
            "min_disk": {
                "type": "integer",
                "minimum": 0,
                "maximum": 2147483647,
                "description": "Amount of disk space (in GB) required to boot image.",
            },
            "self": _ro({"type": "string"}, "An image self url"),
            "file": _ro({"type": "string"}, "An image file url"),
            "stores": _ro({"type": "string"}, "Store in which image data resides, comma-separated"),
            "schema": _ro({"type": "string"}, "An image schema url"),
            "locations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "url": {"type": "string", "maxLength": 255},
                        "metadata": {"type": "object"},
                        "validation_data": {
                            "description": (
                                "Values to be used to populate the corresponding image properties. If the image "
                                "status is not 'queued', values must exactly match those already contained in "
                                "the image properties."
                            ),
                            "type": "object",
                            "writeOnly": True,
                            "additionalProperties": False,
                            "properties": {
                                "checksum": {"type": "string", "minLength": 32, "maxLength": 32},
                                "os_hash_algo": {"type": "string", "maxLength": 64},
                                "os_hash_value": {"type": "string", "maxLength": 128},
                            },
                            "required": ["os_hash_algo", "os_hash_value"],
                        },
                    },
                    "required": ["url", "metadata"],
                },
                "description": "A set of URLs to access the image file",
            },
        }
        return {
            "name": "image",
            "properties": properties,
            "additionalProperties": {"type": "string"},
            "links": [
                {"rel": "self", "href": "{self}"},
                {"rel": "enclosure", "href": "{file}"},
                {"rel": "describedby", "href": "{schema}"},
            ],
        }

    @cached_property
    def images(self) -> dict[str, Any]:
        return {
            "name": "images",
            "properties": {
                "images": {"type": "array", "items": self.image},
                "schema": {"type": "string"},
                "first": {"type": "string"},
                "next": {"type": "string"},
            },
            "links": [
                {"rel": "first", "href": "{first}"},
                {"rel": "next", "href": "{next}"},
                {"rel": "describedby", "href": "{schema}"},
            ],
        }

    @cached_property
    def member(self) -> dict[str, Any]:
        return {
            "name": "member",
            "properties": {
                "created_at": {**_TIMESTAMP, "description": "Date and time of image member creation"},
                "image_id": {"type": "string", "pattern": _UUID, "description": "An identifier for the image"},
                "member_id": {"type": "string", "description": "An identifier for the image member (tenantId)"},
                "status": {
                    "type": "string",
                    "enum": [x.value for x in MemberStatus],
                    "description": "The status of this image member",
                },
                "updated_at": {**_TIMESTAMP, "description": "Date and time of last modification of image member"},
                "schema": {"type": "string", "readOnly": True},
            },
        }

    @cached_property
    def members(self) -> dict[str, Any]:
        return {
            "name": "members",
            "properties": {"members": {"type": "array", "items": self.member}, "schema": {"type": "string"}},
            "links": [{"rel": "describedby", "href": "{schema}"}],
        }

    def by_name(self, name: str) -> dict[str, Any] | None:
        return {"image": self.image, "images": self.images, "member": self.member, "members": self.members}.get(name)

    @cached_property
    def _image_validator(self) -> Draft4Validator:
        return Draft4Validator(self.image)

    def validate_image(self, document: Mapping[str, Any]) -> None:
        error = best_match(self._image_validator.iter_errors(dict(document)))
        if error is not None:
            raise BadRequest(f"Provided object does not match schema 'image': {error.message}")
