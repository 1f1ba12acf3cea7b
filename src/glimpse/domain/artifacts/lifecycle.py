"""The artifact lifecycle: drafted -> active -> deactivated -> (reactivated) active -> deleted, visibility
private -> public, and which fields may change in which status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from glimpse.domain.artifacts.types import ArtifactType
from glimpse.errors import BadRequest, Forbidden


def check_status_change(kind: type[ArtifactType], values: Mapping[str, Any], current: str, target: str) -> str:
    """Validate a status change; returns the action it is: activate, reactivate, deactivate or update."""
    if current == "deleted":
        raise Forbidden("Cannot change status if artifact is deleted.")
    if target == "active":
        if current == "drafted":
            for name, item in kind.all_fields().items():
                if item.required_on_activate and values.get(name) is None:
                    raise Forbidden(f"'{name}' field value must be set before activation.")
            return "activate"
        return "reactivate" if current == "deactivated" else "update"
    if target == "drafted":
        if current != "drafted":
            raise Forbidden("Cannot change status to 'drafted'")
        return "update"
    if target == "deactivated":
        if current not in ("active", "deactivated"):
            raise Forbidden("Cannot deactivate artifact if it's not active.")
        return "deactivate" if current == "active" else "update"
    if target == "deleted":
        raise Forbidden("Cannot delete artifact with PATCH requests. Use special API to do this.")
    raise BadRequest(f"Unknown artifact status: {target}.")


def check_visibility_change(status: str, current: str, target: str) -> str:
    """Validate a visibility change; returns ``publish`` or ``update``."""
    if target == "private":
        if current != "private":
            raise Forbidden("Cannot make artifact private again.")
        return "update"
    if target == "public":
        if status != "active":
            raise Forbidden("Cannot change visibility to 'public' if artifact is not active.")
        return "publish" if current != "public" else "update"
    raise BadRequest(f"Unknown artifact visibility: {target}.")


def check_change_allowed(kind: type[ArtifactType], status: str, name: str) -> None:
    """May a client set field ``name`` of an artifact in ``status``?"""
    item = kind.field(name)
    if item is None:
        raise BadRequest(f"Cannot add new field '{name}' to artifact.")
    if status not in ("active", "drafted"):
        raise Forbidden("Forbidden to change fields if artifact is not active or drafted.")
    if item.system:
        raise Forbidden(f"Forbidden to specify system field {name}. It is not available for modifying by users.")
    if status == "active" and not item.mutable:
        raise Forbidden(f"Forbidden to change field '{name}' after activation.")
