"""Images: their records, visibility, data, actions and copy-image."""

from __future__ import annotations

from oslo_policy.policy import RuleDefault

from glimpse.policy.rules.common import (
    ADMIN,
    ADMIN_OR_MEMBER_OF_VISIBLE_IMAGE,
    ADMIN_OR_PROJECT_MANAGER,
    ADMIN_OR_PROJECT_MEMBER,
    ADMIN_OR_PROJECT_MEMBER_AS_OWNER,
    ADMIN_OR_PROJECT_READER,
    ADMIN_OR_READER_OF_VISIBLE_IMAGE,
    IMAGE,
    rule,
)


def rules() -> list[RuleDefault]:
    return [
        rule("add_image", ADMIN_OR_PROJECT_MEMBER_AS_OWNER, "Create an image record owned by your project.",
             ("POST", "/v2/images")),
        rule("delete_image", ADMIN_OR_PROJECT_MEMBER, "Delete an image and its data.", ("DELETE", IMAGE)),
        rule("get_image", ADMIN_OR_READER_OF_VISIBLE_IMAGE,
             "Show an image your project owns, is a member of, or that is public, community or shared.",
             ("GET", IMAGE)),
        rule("get_images", ADMIN_OR_PROJECT_READER, "List the images your project may see.",
             ("GET", "/v2/images")),
        rule("modify_image", ADMIN_OR_PROJECT_MEMBER, "Change an image's attributes, properties and tags.",
             ("PATCH", IMAGE)),
        rule("publicize_image", ADMIN, "Make an image public: every project lists it.", ("PATCH", IMAGE)),
        rule("communitize_image", ADMIN_OR_PROJECT_MEMBER,
             "Make an image community: every project may use it, none lists it unasked.", ("PATCH", IMAGE)),
        rule("download_image", ADMIN_OR_MEMBER_OF_VISIBLE_IMAGE, "Download an image's data.",
             ("GET", f"{IMAGE}/file")),
        rule("download_from_store", ADMIN_OR_MEMBER_OF_VISIBLE_IMAGE,
             "Download an image's data from a store the caller names.", ("GET", f"{IMAGE}/file")),
        rule("upload_image", ADMIN_OR_PROJECT_MEMBER, "Upload or stage an image's data.",
             ("PUT", f"{IMAGE}/file")),
        rule("deactivate", ADMIN_OR_PROJECT_MEMBER, "Deactivate an image: its data can no longer be downloaded.",
             ("POST", f"{IMAGE}/actions/deactivate")),
        rule("reactivate", ADMIN_OR_PROJECT_MEMBER, "Reactivate a deactivated image.",
             ("POST", f"{IMAGE}/actions/reactivate")),
        rule("copy_image", ADMIN_OR_PROJECT_MANAGER, "Copy an active image's data to more stores (copy-image).",
             ("POST", f"{IMAGE}/import")),
    ]  # fmt: skip
