"""Image sharing: an image's members."""

from __future__ import annotations

from oslo_policy.policy import RuleDefault

from glimpse.policy.rules.common import (
    ADMIN_OR_PROJECT_MEMBER,
    ADMIN_OR_READER_OF_OWNER_OR_MEMBER,
    ADMIN_OR_THE_MEMBER,
    IMAGE,
    rule,
)

_MEMBER = f"{IMAGE}/members/{{member_id}}"


def rules() -> list[RuleDefault]:
    return [
        rule("add_member", ADMIN_OR_PROJECT_MEMBER, "Share an image with another project.",
             ("POST", f"{IMAGE}/members")),
        rule("delete_member", ADMIN_OR_PROJECT_MEMBER, "Stop sharing an image with a project.",
             ("DELETE", _MEMBER)),
        rule("get_member", ADMIN_OR_READER_OF_OWNER_OR_MEMBER, "Show one member of an image.", ("GET", _MEMBER)),
        rule("get_members", ADMIN_OR_READER_OF_OWNER_OR_MEMBER, "List the members of an image.",
             ("GET", f"{IMAGE}/members")),
        rule("modify_member", ADMIN_OR_THE_MEMBER,
             "Accept, reject or reset a sharing: only the member project decides.", ("PUT", _MEMBER)),
    ]  # fmt: skip
