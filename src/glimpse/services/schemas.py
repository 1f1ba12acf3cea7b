"""The JSON Schemas served at /v2/schemas/*, which the server validates its own requests against."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match

from glimpse.domain.images import MemberStatus, Status, Visibility
from glimpse.domain.tasks import TaskStatus, TaskType
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

    # Glance serves the member, members, task and tasks schemas in their "minimal" form: name and properties
    # (collections: the array, `schema` and the describedby link), with no additionalProperties.
    @cached_property
    def member(self) -> dict[str, Any]:
        return {
            "name": "member",
            "properties": {
                "member_id": {"type": "string", "description": "The project the image is shared with"},
                "image_id": {"type": "string", "description": "The shared image", "pattern": _UUID},
                "created_at": {"type": "string", "description": "When the image was shared with the project"},
                "updated_at": {"type": "string", "description": "When the membership last changed"},
                "status": {
                    "type": "string",
                    "description": "Whether the project accepted the image",
                    "enum": [x.value for x in MemberStatus],
                },
                "schema": {"readOnly": True, "type": "string"},
            },
        }

    @cached_property
    def members(self) -> dict[str, Any]:
        return _minimal_collection("members", self.member)

    @cached_property
    def task(self) -> dict[str, Any]:
        return {"name": "task", "properties": _task_properties(full=True)}

    @cached_property
    def tasks(self) -> dict[str, Any]:
        """A listed task has no ``input``, ``result`` nor ``message``."""
        return _minimal_collection("tasks", {"name": "task", "properties": _task_properties(full=False)})

    def by_name(self, name: str) -> dict[str, Any] | None:
        return {
            "image": self.image, "images": self.images, "member": self.member, "members": self.members,
            "task": self.task, "tasks": self.tasks,
        }.get(name)  # fmt: skip

    @cached_property
    def _image_validator(self) -> Draft4Validator:
        return Draft4Validator(self.image)

    def validate_image(self, document: Mapping[str, Any]) -> None:
        error = best_match(self._image_validator.iter_errors(dict(document)))
        if error is not None:
            raise BadRequest(f"Provided object does not match schema 'image': {error.message}")


def _minimal_collection(name: str, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "properties": {name: {"type": "array", "items": item}, "schema": {"type": "string"}},
        "links": [{"rel": "describedby", "href": "{schema}"}],
    }


_API_TASK_TYPES = (TaskType.IMPORT, TaskType.API_IMAGE_IMPORT, TaskType.LOCATION_IMPORT)  # Glance's three


def _task_properties(*, full: bool) -> dict[str, Any]:
    text = {"type": "string"}
    properties: dict[str, Any] = {
        "id": {**text, "description": "The task's identifier", "pattern": _UUID},
        "type": {**text, "description": "What the task does", "enum": [x.value for x in _API_TASK_TYPES]},
        "status": {**text, "description": "Where the task is", "enum": [x.value for x in TaskStatus]},
        "input": {"type": ["null", "object"], "description": "What the task was given (JSON)"},
        "result": {"type": ["null", "object"], "description": "What the task produced (JSON)"},
        "owner": {**text, "description": "The project that owns the task"},
        "message": {**text, "description": "Why the task failed, or other news worth a human's attention"},
        "image_id": {**text, "description": "The image the task works on"},
        "request_id": {**text, "description": "The request that created the task"},
        "user_id": {**text, "description": "The user who created the task"},
        "expires_at": {"type": ["null", "string"], "description": "When a finished task may be removed"},
        "created_at": {**text, "description": "When the task was created"},
        "updated_at": {**text, "description": "When the task last changed"},
        "self": {"readOnly": True, **text},
        "schema": {"readOnly": True, **text},
    }
    if not full:
        for name in ("input", "result", "message"):
            del properties[name]
    return properties
