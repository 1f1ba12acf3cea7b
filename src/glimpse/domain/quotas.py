"""Per-project quotas: Glance's four unified limits, their units, and the over-limit rule.

Sizes are counted in bytes here and limited in MiB (as Keystone's unified limits for Glance are written);
counts are counted and limited in images. A limit of -1 is unlimited.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from glimpse.errors import BadRequest, OverLimit

MIB = 1024 * 1024
UNLIMITED = -1


class Resource(StrEnum):
    IMAGE_SIZE_TOTAL = "image_size_total"  # MiB of image data in every store (each copy counts)
    IMAGE_STAGE_TOTAL = "image_stage_total"  # MiB of staged data waiting for (or in) an import
    IMAGE_COUNT_TOTAL = "image_count_total"  # images the project owns
    IMAGE_COUNT_UPLOADING = "image_count_uploading"  # images being uploaded, staged or imported


RESOURCES: tuple[Resource, ...] = tuple(Resource)
SIZE_RESOURCES = frozenset({Resource.IMAGE_SIZE_TOTAL, Resource.IMAGE_STAGE_TOTAL})


def parse_resource(name: str) -> Resource:
    try:
        return Resource(name)
    except ValueError:
        raise BadRequest(f"Unknown quota resource {name!r}; one of {', '.join(RESOURCES)}") from None


def in_limit_units(resource: Resource, amount: int) -> int:
    """``amount`` (bytes for sizes) in the unit the limit is written in, rounded up for sizes."""
    return -(-amount // MIB) if resource in SIZE_RESOURCES else amount


def _show(resource: Resource, amount: int) -> str:
    if resource in SIZE_RESOURCES:
        return f"{amount / MIB:.1f} MiB" if amount % MIB else f"{amount // MIB} MiB"
    return f"{amount} image{'s' if amount != 1 else ''}"


def check(
    project_id: str, limits: Mapping[Resource, int], usage: Mapping[Resource, int], requested: Mapping[Resource, int]
) -> None:
    """Raise OverLimit for the first resource whose usage plus the request would pass its limit."""
    for resource, amount in requested.items():
        limit = limits.get(resource, UNLIMITED)
        if limit == UNLIMITED:
            continue
        base = limit * MIB if resource in SIZE_RESOURCES else limit
        used = usage.get(resource, 0)
        if used + amount > base:
            raise OverLimit(
                f"Quota exceeded for project {project_id}: {resource.value} limit is {_show(resource, base)}, "
                f"current usage {_show(resource, used)}, request {_show(resource, amount)}.",
                resource=resource.value,
                limit=limit,
                usage=in_limit_units(resource, used),
                requested=in_limit_units(resource, amount),
            )
