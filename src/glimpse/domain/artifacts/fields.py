"""Field kinds of artifact types: String, Integer, Float, Boolean, DateTime, Version, Link, Blob, and the
compound List and Dict (a Dict of Blobs is a Folder). A field coerces and validates the values clients send
and describes itself in Glare's JSON-schema shape for ``/schemas``."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from glimpse.domain.artifacts import semver
from glimpse.domain.artifacts import validators as v

Kind = Literal["String", "Integer", "Float", "Boolean", "DateTime", "Version", "Link", "Blob", "List", "Dict"]

FILTER_OPS = ("eq", "neq", "in", "gt", "gte", "lt", "lte", "like")
DEFAULT_MAX_BLOB_SIZE = 10 * 1024 * 1024
DEFAULT_MAX_FOLDER_SIZE = 2550 * 1024 * 1024
BLOB_STATUSES = ("saving", "active")

_JSON_TYPES = {
    "String": "string",
    "Integer": "integer",
    "Float": "number",
    "Boolean": "boolean",
    "DateTime": "string",
    "Version": "string",
    "Link": "string",
    "Blob": "object",
    "List": "array",
    "Dict": "object",
}
_DEFAULT_OPS: dict[str, tuple[str, ...]] = {
    "String": ("eq", "neq", "in"),
    "Integer": ("eq", "neq", "in", "gt", "gte", "lt", "lte"),
    "Float": ("eq", "neq", "in", "gt", "gte", "lt", "lte"),
    "Version": ("eq", "neq", "in", "gt", "gte", "lt", "lte"),
    "Boolean": ("eq", "neq"),
    "Link": ("eq", "neq"),
    "Blob": (),
    "DateTime": ("lt", "gt"),
}
_ALLOWED_OPS: dict[str, tuple[str, ...]] = {
    **_DEFAULT_OPS,
    "String": ("eq", "neq", "in", "like"),
    "Integer": FILTER_OPS,
    "Float": FILTER_OPS,
    "Version": FILTER_OPS,
}
# what a blob looks like in an artifact as clients see it
BLOB_OUTPUT_SCHEMA: dict[str, Any] = {
    "type": ["object", "null"],
    "properties": {
        "size": {"type": ["number", "null"]},
        "md5": {"type": ["string", "null"]},
        "sha1": {"type": ["string", "null"]},
        "sha256": {"type": ["string", "null"]},
        "external": {"type": "boolean"},
        "status": {"type": "string", "enum": list(BLOB_STATUSES)},
        "content_type": {"type": "string"},
    },
    "required": ["size", "md5", "sha1", "sha256", "external", "status", "content_type"],
    "additionalProperties": False,
}
_TRUE = {"1", "t", "true", "on", "y", "yes"}
_FALSE = {"0", "f", "false", "off", "n", "no"}


class IncorrectArtifactType(Exception):
    """An artifact type class is declared wrongly (a programming error, found when the type is built)."""


def coerce_scalar(kind: str, value: Any) -> Any:
    """A client's value as the kind's Python value; ValueError when it is not one."""
    if kind == "String":
        if isinstance(value, bool | int | float):
            return str(value)
        if not isinstance(value, str):
            raise ValueError(f"A string is required, not a {type(value).__name__}")
        return value
    if kind == "Link":
        if not isinstance(value, str):
            raise ValueError(f"A string is required, not a {type(value).__name__}")
        check_link(value)
        return value
    if kind == "Integer":
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            try:
                return int(value)
            except (ValueError, OverflowError):
                raise ValueError(f"{value!r} is not an integer") from None
        if isinstance(value, bool):
            return int(value)
        raise ValueError(f"An integer is required, not a {type(value).__name__}")
    if kind == "Float":
        if isinstance(value, str | int | float):
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a number") from None
            if number != number or number in (float("inf"), float("-inf")):
                raise ValueError(f"{value!r} is not a finite number")
            return number
        raise ValueError(f"A number is required, not a {type(value).__name__}")
    if kind == "Boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float | str):  # as oslo's FlexibleBoolean: only "true" words (and 1) are true
            return str(value).strip().lower() in _TRUE
        if isinstance(value, list | dict):  # FlexibleBoolean reads a list or an object as its text: never true
            return False
        raise ValueError(f"A boolean is required, not a {type(value).__name__}")
    if kind == "Version":
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError(f"A version string is required, not a {type(value).__name__}")
        return semver.normalize(str(value))
    if kind == "DateTime":
        if not isinstance(value, str):
            raise ValueError("A date-time string is required")
        return value
    raise ValueError(f"Values of kind {kind} cannot be set directly")


def check_link(value: str) -> None:
    """A link is an http(s) URL or ``/artifacts/<type>/<id>``; whether the artifact exists is the service's
    business."""
    if value.startswith("http"):
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"Only http and https links are allowed: {value}")
        return
    parts = value.split("/")
    if len(parts) != 4 or parts[0] or parts[1] != "artifacts" or not parts[2] or not parts[3]:
        raise ValueError(
            f"Link {value} is not valid. The link must be either a valid url or a reference to an artifact: "
            "/artifacts/<artifact_type>/<artifact_id>"
        )


def link_target(value: str) -> tuple[str, str] | None:
    """(type, id) of an internal link; None for an external one."""
    if value.startswith("http"):
        return None
    parts = value.split("/")
    return parts[2], parts[3]


@dataclass(frozen=True)
class Field:
    """One field of an artifact type. Build them with the helpers below (String(), List(), Folder()...)."""

    kind: Kind
    element: Kind | None = None
    mutable: bool = False
    required_on_activate: bool = True
    system: bool = False
    nullable: bool = True
    default: Any = None
    sortable: bool = False
    filter_ops: tuple[str, ...] = ()
    description: str = ""
    metadata: dict[str, Any] | None = None
    validators: tuple[v.Validator, ...] = ()
    element_validators: tuple[v.Validator, ...] = ()
    max_blob_size: int | None = None
    max_folder_size: int | None = None
    checks: tuple[v.Validator, ...] = field(default=(), compare=False)

    @property
    def is_blob(self) -> bool:
        return self.kind == "Blob"

    @property
    def is_folder(self) -> bool:
        return self.kind == "Dict" and self.element == "Blob"

    @property
    def is_compound(self) -> bool:
        return self.kind in ("List", "Dict")

    @property
    def value_kind(self) -> Kind:
        """The kind of the stored scalars: the element kind of a List or Dict, else the field's own."""
        return self.element if self.element is not None else self.kind

    def coerce(self, value: Any) -> Any:
        """The client's value checked against the kind and every validator; ValueError otherwise."""
        if value is None:
            if not self.nullable:
                raise ValueError("Value cannot be null")
            return None
        if self.kind == "List":
            if not isinstance(value, list):
                raise ValueError(f"A list is required, not a {type(value).__name__}")
            assert self.element is not None
            result: Any = [coerce_scalar(self.element, item) for item in value]
        elif self.kind == "Dict":
            if not isinstance(value, dict):
                raise ValueError(f"A dict is required, not a {type(value).__name__}")
            assert self.element is not None
            result = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    raise ValueError("Dict keys must be strings")
                result[key] = None if item is None else coerce_scalar(self.element, item)
        else:
            result = coerce_scalar(self.kind, value)
        for check in self.checks:
            check(result)
        return result

    def schema(self, name: str = "") -> dict[str, Any]:
        """This field as Glare describes it in ``/schemas/{type}``."""
        schema: dict[str, Any] = {}
        for check in self.checks:
            schema.update(check.schema())
        json_type = _JSON_TYPES[self.kind]
        schema["type"] = [json_type, "null"] if self.nullable else json_type
        schema["glareType"] = self.glare_type
        if self.system:
            schema["readOnly"] = True
        if self.kind == "Dict":
            element_type = _JSON_TYPES[self.element or "String"]
            property_checks = schema.pop("propertyValidators", [])
            if self.element == "Blob":
                schema["additionalProperties"] = BLOB_OUTPUT_SCHEMA
            elif schema.get("properties"):
                required = schema.pop("required", [])
                properties: dict[str, Any] = {}
                for key in schema.pop("properties"):
                    properties[key] = {"type": element_type if key in required else [element_type, "null"]}
                    for extra in property_checks:
                        properties[key].update(extra)
                schema["properties"] = properties
                schema["additionalProperties"] = False
            else:
                schema["additionalProperties"] = {"type": element_type}
                for extra in property_checks:
                    schema["additionalProperties"].update(extra)
        if self.kind == "List":
            item_checks = schema.pop("itemValidators", [])
            schema["items"] = {"type": _JSON_TYPES[self.element or "String"]}
            for extra in item_checks:
                schema["items"].update(extra)
        if self.kind == "Blob":
            schema.update(BLOB_OUTPUT_SCHEMA)
        if self.kind == "DateTime":
            schema["format"] = "date-time"
        if self.description:
            schema["description"] = self.description
        if self.mutable:
            schema["mutable"] = True
        if self.sortable:
            schema["sortable"] = True
        if not self.required_on_activate:
            schema["required_on_activate"] = False
        if self.default is not None:
            schema["default"] = self.default
        if self.metadata is not None:
            schema["metadata"] = self.metadata
        schema["filter_ops"] = list(self.filter_ops)
        return schema

    @property
    def glare_type(self) -> str:
        if self.kind in ("List", "Dict"):
            return f"{self.element}{self.kind}"
        if self.kind == "Version":
            return "String"
        return self.kind


def _build(
    kind: Kind,
    *,
    element: Kind | None = None,
    validators: Sequence[v.Validator] = (),
    element_validators: Sequence[v.Validator] = (),
    filter_ops: Sequence[str] | None = None,
    max_size: int | None = None,
    long_values: Callable[[str], bool] | None = None,
    **options: Any,
) -> Field:
    ops_kind = element or kind
    if filter_ops is None:
        ops = _DEFAULT_OPS[ops_kind]
    else:
        for op in filter_ops:
            if op not in _ALLOWED_OPS[ops_kind]:
                raise IncorrectArtifactType(f"Incorrect filter operator {op!r} for a {ops_kind} field")
        ops = tuple(filter_ops)
    checks = list(validators)
    if kind == "String":
        if not any(isinstance(c, v.MaxStrLen | v.AllowedValues) for c in checks):
            checks.append(v.MaxStrLen(255))
        if options.get("sortable") and any(isinstance(c, v.MaxStrLen) and c.size > 255 for c in checks):
            raise IncorrectArtifactType("a sortable string field holds 255 characters at most")
    elif kind in ("List", "Dict"):
        if options.get("sortable"):
            raise IncorrectArtifactType("compound fields cannot be sortable")
        elements = list(element_validators)
        if element == "String" and not any(isinstance(c, v.MaxStrLen) for c in elements):
            elements.insert(0, v.MaxStrLen(255))
        size = 255 if max_size is None else max_size
        if kind == "List":
            checks.append(v.MaxListSize(size))
            checks.append(v.ListElements(elements))
        else:
            checks.append(v.MaxDictSize(size))
            extra: list[v.Validator] = [
                v.DictElements(elements, long_values=long_values), v.MaxDictKeyLen(255), v.MinDictKeyLen(1),
            ]  # fmt: skip
            checks.extend(c for c in extra if not any(type(c) is type(given) for given in checks))
    return Field(
        kind=kind,
        element=element,
        filter_ops=ops,
        validators=tuple(validators),
        element_validators=tuple(element_validators),
        checks=tuple(checks),
        **options,
    )


def String(**options: Any) -> Field:
    return _build("String", **options)


def Integer(**options: Any) -> Field:
    return _build("Integer", **options)


def Float(**options: Any) -> Field:
    return _build("Float", **options)


def Boolean(**options: Any) -> Field:
    return _build("Boolean", **options)


def DateTime(**options: Any) -> Field:
    return _build("DateTime", **options)


def Version(**options: Any) -> Field:
    return _build("Version", **options)


def Link(**options: Any) -> Field:
    return _build("Link", **options)


def Blob(max_blob_size: int = DEFAULT_MAX_BLOB_SIZE, **options: Any) -> Field:
    return _build("Blob", max_blob_size=int(max_blob_size), **options)


def List(element: Kind, **options: Any) -> Field:
    if element == "Blob":
        raise IncorrectArtifactType("a list of blobs is not allowed: use a Folder")
    options.setdefault("default", [])
    return _build("List", element=element, **options)


def Dict(element: Kind, **options: Any) -> Field:
    options.setdefault("default", {})
    return _build("Dict", element=element, **options)


def Folder(
    max_blob_size: int = DEFAULT_MAX_BLOB_SIZE, max_folder_size: int = DEFAULT_MAX_FOLDER_SIZE, **options: Any
) -> Field:
    """A dict of named blobs (Glare's BlobDict)."""
    return Dict("Blob", max_blob_size=int(max_blob_size), max_folder_size=int(max_folder_size), **options)
