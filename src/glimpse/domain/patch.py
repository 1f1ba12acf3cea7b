"""Glance's JSON-patch dialects, normalised to (op, path, value) triples; pure parsing, no I/O.

``application/openstack-images-v2.1-json-patch`` is RFC 6902 limited to add/remove/replace on
top-level paths (plus ``/locations/N`` for add and remove, Glance's only deeper paths). The deprecated
``...-v2.0-json-patch`` writes an operation as
``{"replace": "/name", "value": ...}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from glimpse.errors import BadRequest

MEDIA_TYPE_21 = "application/openstack-images-v2.1-json-patch"
MEDIA_TYPE_20 = "application/openstack-images-v2.0-json-patch"
MEDIA_TYPES = (MEDIA_TYPE_21, MEDIA_TYPE_20)
OPERATIONS = ("add", "remove", "replace")


@dataclass(frozen=True, slots=True)
class PatchOp:
    op: str
    path: tuple[str, ...]
    value: Any = None


def _decode_path(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, str) or not raw.startswith("/") or raw == "/":
        raise BadRequest(f'Pointer `{raw}` does not start with "/".')
    parts = []
    for part in raw[1:].split("/"):
        if "~" in part.replace("~0", "").replace("~1", ""):
            raise BadRequest(f'Pointer `{raw}` contains "~" not part of a recognized escape sequence.')
        parts.append(part.replace("~1", "/").replace("~0", "~"))
    return tuple(parts)


# how many segments a path has, by its first one and the operation (Glance's limits); anything else has one
_DEPTH = {"locations": {"add": 2, "remove": 2, "replace": 1}}


def _check_depth(op: str, path: tuple[str, ...]) -> None:
    if len(path) != _DEPTH.get(path[0], {}).get(op, 1):
        raise BadRequest(f"Invalid JSON pointer for this resource: '/{'/'.join(path)}'")


def parse_patch(body: object, media_type: str) -> list[PatchOp]:
    if not isinstance(body, list):
        raise BadRequest("Request body must be a JSON array of operation objects.")
    ops: list[PatchOp] = []
    for raw in body:
        if not isinstance(raw, dict):
            raise BadRequest("Operations must be JSON objects.")
        if media_type == MEDIA_TYPE_20:
            names = [key for key in raw if key in OPERATIONS]
            if len(names) != 1:
                raise BadRequest(
                    'Operation objects must contain exactly one member named "add", "remove", or "replace".'
                )
            op, path = names[0], raw[names[0]]
        else:
            op, path = raw.get("op"), raw.get("path")
            if op not in OPERATIONS:
                raise BadRequest(f"Invalid operation: `{op}`: it must be one of add, remove, replace.")
        parts = _decode_path(path)
        _check_depth(str(op), parts)
        if op in ("add", "replace") and "value" not in raw:
            raise BadRequest(f'Operation "{op}" requires a member named "value".')
        ops.append(PatchOp(op=str(op), path=parts, value=raw.get("value")))
    return ops
