"""The enabled artifact types: built-ins and those of installed packages (entry point group
``glimpse.artifact_types``), filtered by ``[DEFAULT] enabled_artifact_types``; ``all`` is always there."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points

from glimpse.domain.artifacts.builtin import BUILTIN_TYPES
from glimpse.domain.artifacts.types import ArtifactType
from glimpse.errors import NotFound

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "glimpse.artifact_types"


def available_types() -> dict[str, type[ArtifactType]]:
    """Every type Glimpse knows: the built-ins, then the entry points' (which may not replace a built-in)."""
    return dict(_scan())


@functools.cache
def _scan() -> dict[str, type[ArtifactType]]:
    """Once a process: reading every installed distribution's entry points costs tens of milliseconds, and the
    installed packages do not change under a running process."""
    known = {kind.type_name: kind for kind in BUILTIN_TYPES}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            kind = entry.load()
        except Exception:
            log.exception("cannot load artifact type %s from %s", entry.name, entry.value)
            continue
        if not (isinstance(kind, type) and issubclass(kind, ArtifactType)):
            log.error("entry point %s (%s) is not an ArtifactType class; ignored", entry.name, entry.value)
            continue
        kind.check()
        if kind.type_name in known:
            log.error("artifact type %s of %s is already defined; ignored", kind.type_name, entry.value)
            continue
        known[kind.type_name] = kind
    return known


class ArtifactTypes:
    """The types this server serves, by name."""

    def __init__(self, enabled: Iterable[str], known: dict[str, type[ArtifactType]] | None = None) -> None:
        known = available_types() if known is None else known
        names = list(dict.fromkeys([*enabled, "all"]))
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ValueError(f"enabled_artifact_types names unknown types: {', '.join(unknown)}")
        self._types = {name: known[name] for name in names}

    def get(self, type_name: str) -> type[ArtifactType]:
        kind = self._types.get(type_name)
        if kind is None:
            raise NotFound(f"Artifact type {type_name} does not exist")
        return kind

    def find(self, type_name: str) -> type[ArtifactType] | None:
        return self._types.get(type_name)

    def __iter__(self) -> Iterator[type[ArtifactType]]:
        return iter(self._types.values())

    def names(self) -> list[str]:
        return list(self._types)
