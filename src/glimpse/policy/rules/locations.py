"""An image's locations: the older PATCH-based rules and the 2.17 locations API."""

from __future__ import annotations

from oslo_policy.policy import RuleDefault

from glimpse.policy.rules.common import (
    ADMIN_OR_PROJECT_MANAGER,
    ADMIN_OR_PROJECT_MEMBER,
    ADMIN_OR_PROJECT_READER,
    IMAGE,
    SERVICE,
    SERVICE_OR_PROJECT_MEMBER_AS_OWNER,
    rule,
)


def rules() -> list[RuleDefault]:
    return [
        rule("delete_image_location", ADMIN_OR_PROJECT_MANAGER,
             "Remove a location of an image, including removing its copy from one store.",
             ("PATCH", IMAGE), ("DELETE", "/v2/stores/{store_id}/{image_id}")),
        rule("get_image_location", ADMIN_OR_PROJECT_READER, "Read an image's locations.", ("GET", IMAGE)),
        rule("set_image_location", ADMIN_OR_PROJECT_MEMBER, "Set an image's locations.", ("PATCH", IMAGE)),
        rule("add_image_location", SERVICE_OR_PROJECT_MEMBER_AS_OWNER, "Add a location to a queued image.",
             ("POST", f"{IMAGE}/locations")),
        rule("fetch_image_location", SERVICE, "List an image's locations (services only).",
             ("GET", f"{IMAGE}/locations")),
    ]  # fmt: skip
