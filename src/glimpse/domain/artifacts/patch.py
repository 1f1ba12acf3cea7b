"""RFC 6902 JSON patch (``application/json-patch+json``) as the artifacts API applies it: operation by
operation on the artifact's JSON document, each naming the top-level field it changes."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from glimpse.errors import BadRequest

OPERATIONS = ("add", "remove", "replace", "move", "copy", "test")


@dataclass(frozen=True, slots=True)
class Operation:
    op: str
    path: tuple[str, ...]
    value: Any = None
    source: tuple[str, ...] = ()


def _pointer(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, str) or not raw.startswith("/") or raw == "/":
        raise BadRequest("Json Patch body is malformed")
    return tuple(part.replace("~1", "/").replace("~0", "~") for part in raw[1:].split("/"))


def parse(body: object) -> list[Operation]:
    if not isinstance(body, list):
        raise BadRequest("Json Patch body is malformed")
    operations = []
    for item in body:
        if not isinstance(item, dict) or item.get("op") not in OPERATIONS or "path" not in item:
            raise BadRequest("Json Patch body is malformed")
        op = item["op"]
        if op in ("add", "replace", "test") and "value" not in item:
            raise BadRequest("Json Patch body is malformed")
        source: tuple[str, ...] = ()
        if op in ("move", "copy"):
            if "from" not in item:
                raise BadRequest("Json Patch body is malformed")
            source = _pointer(item["from"])
        operations.append(Operation(op, _pointer(item["path"]), item.get("value"), source))
    return operations


def _parent(doc: Any, path: tuple[str, ...]) -> tuple[Any, str]:
    target = doc
    for part in path[:-1]:
        target = _step(target, part)
    return target, path[-1]


def _step(target: Any, part: str) -> Any:
    try:
        if isinstance(target, list):
            return target[_index(target, part, allow_end=False)]
        if isinstance(target, dict):
            return target[part]
    except (KeyError, IndexError):
        pass
    raise BadRequest(f"Path component {part!r} not found")


def _index(target: list[Any], part: str, allow_end: bool) -> int:
    if part == "-" and allow_end:
        return len(target)
    if not part.isdigit() or (len(part) > 1 and part.startswith("0")):
        raise BadRequest(f"Invalid list index {part!r}")
    index = int(part)
    if index > len(target) or (index == len(target) and not allow_end):
        raise BadRequest(f"List index {part!r} out of range")
    return index


def _get(doc: Any, path: tuple[str, ...]) -> Any:
    target = doc
    for part in path:
        target = _step(target, part)
    return target


def _add(doc: Any, path: tuple[str, ...], value: Any) -> None:
    parent, last = _parent(doc, path)
    if isinstance(parent, list):
        parent.insert(_index(parent, last, allow_end=True), value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise BadRequest(f"Cannot add to a {type(parent).__name__}")


def _remove(doc: Any, path: tuple[str, ...]) -> Any:
    parent, last = _parent(doc, path)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, allow_end=False))
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    raise BadRequest(f"Cannot remove non-existent field {'/'.join(path)}")


def apply(doc: dict[str, Any], operation: Operation) -> dict[str, Any]:
    """A copy of ``doc`` with one operation applied; BadRequest when it cannot be."""
    doc = copy.deepcopy(doc)
    op, path = operation.op, operation.path
    if op == "add":
        _add(doc, path, copy.deepcopy(operation.value))
    elif op == "remove":
        _remove(doc, path)
    elif op == "replace":
        parent, last = _parent(doc, path)
        if isinstance(parent, list):
            parent[_index(parent, last, allow_end=False)] = copy.deepcopy(operation.value)
        elif isinstance(parent, dict) and last in parent:
            parent[last] = copy.deepcopy(operation.value)
        else:
            raise BadRequest(f"Cannot replace non-existent field {'/'.join(path)}")
    elif op == "move":
        value = _remove(doc, operation.source)
        _add(doc, path, value)
    elif op == "copy":
        _add(doc, path, copy.deepcopy(_get(doc, operation.source)))
    elif op == "test" and _get(doc, path) != operation.value:
        raise BadRequest(f"Test operation failed on {'/'.join(path)}")
    return doc
