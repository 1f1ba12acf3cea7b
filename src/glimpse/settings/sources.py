"""Where a field of the settings is read from (markers on the field), and how a raw INI or environment
string becomes the field's input.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Union

from pydantic.fields import FieldInfo


@dataclass(frozen=True, slots=True)
class Ini:
    """The INI section and option (Glance's name where Glance has the option) a field is read from."""

    section: str
    option: str


@dataclass(frozen=True, slots=True)
class Env:
    """The environment variable a field is read from."""

    name: str


@dataclass(frozen=True, slots=True)
class IniSection:
    """A nested model read from one INI section, each of its fields under its own name."""

    name: str


@dataclass(frozen=True, slots=True)
class IniOptions:
    """A ``dict`` field holding every option of one INI section (``name = a, b`` -> ``{"name": ["a", "b"]}``)."""

    name: str


@dataclass(frozen=True, slots=True)
class EnvPrefix:
    """A nested model whose fields are also read from ``<prefix><FIELD NAME IN CAPITALS>`` variables."""

    prefix: str


def _markers(info: FieldInfo, kind: type[Any]) -> list[Any]:
    return [marker for marker in info.metadata if isinstance(marker, kind)]


def _unwrap(annotation: Any) -> list[Any]:
    """The types a field may hold, with ``X | None`` and ``Annotated`` taken apart."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [kind for arg in typing.get_args(annotation) for kind in _unwrap(arg) if kind is not type(None)]
    return [annotation]


def _shape(info: FieldInfo) -> str:
    """How a raw INI/environment string becomes the field's input: ``list``, ``dict`` or ``str``."""
    for kind in _unwrap(info.annotation):
        origin = typing.get_origin(kind) or kind
        if origin is list:
            return "list"
        if origin is dict:
            return "dict"
    return "str"


def _split_list(value: str) -> list[str]:
    """``a, b`` or Glance's ``[a, b]`` / ``['a', 'b']``."""
    value = value.strip().removeprefix("[").removesuffix("]")
    return [item.strip().strip("'\"") for item in value.split(",") if item.strip().strip("'\"")]


def _split_dict(value: str) -> dict[str, str]:
    """``name=value, name=value`` (the value may contain ':' and '=')."""
    pairs = (item.split("=", 1) for item in _split_list(value))
    return {name.strip(): rest.strip() for name, rest in pairs}


def _coerce(info: FieldInfo, raw: str) -> Any:
    shape = _shape(info)
    return _split_list(raw) if shape == "list" else _split_dict(raw) if shape == "dict" else raw
