"""The policy target of an image, and enforcing a rule on an image as Glance does (404 for who may not see it)."""

from __future__ import annotations

from typing import Any

from glimpse.context import RequestContext
from glimpse.domain.images import Image, Visibility
from glimpse.errors import Forbidden, NotFound
from glimpse.policy import Policy, Target


def target_of(image: Image, member_id: str | None = None) -> Target:
    """The policy target of an image: its owner and visibility, and its attributes for operators' rules."""
    attributes: dict[str, Any] = {
        **image.properties,
        "id": image.id,
        "name": image.name,
        "status": image.status.value,
        "protected": image.protected,
        "os_hidden": image.os_hidden,
        "disk_format": image.disk_format,
        "container_format": image.container_format,
        "min_disk": image.min_disk,
        "min_ram": image.min_ram,
    }
    return Target(project_id=image.owner, member_id=member_id, visibility=image.visibility.value, attributes=attributes)


def image_target(ctx: RequestContext, image: Image) -> Target:
    """The target Glance checks image (and member) rules against: for a shared image the caller does not
    own, ``member_id`` is the caller's project (Glance found the image because the project is a member)."""
    shared_with_caller = image.visibility == Visibility.SHARED and ctx.project_id != image.owner
    return target_of(image, ctx.project_id if shared_with_caller else None)


def enforce_on_image(policy: Policy, ctx: RequestContext, rule: str, image: Image) -> None:
    """Enforce ``rule`` on an image the way Glance does: a caller refused ``get_image`` too (who may not see
    the image: a system-scoped token, say) gets 404, so the refusal does not reveal that the image exists;
    a caller who may see it gets 403."""
    target = image_target(ctx, image)
    if policy.check(ctx, rule, target):
        return
    if rule == "get_image" or not policy.check(ctx, "get_image", target):
        raise NotFound("The resource could not be found.")
    raise Forbidden(f"You are not authorized to complete {rule} action.")
