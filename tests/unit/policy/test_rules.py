"""glimpse.policy.rules: Glance's rule names with secure-RBAC defaults."""

from __future__ import annotations

import pytest

from glimpse.context import RequestContext
from glimpse.errors import Forbidden
from glimpse.policy import Policy, Target
from glimpse.policy.rules import DEFAULT_RULES, effective_roles


def ctx(project: str | None, *roles: str, service_roles: tuple[str, ...] = ()) -> RequestContext:
    return RequestContext(
        user_id="u", project_id=project, roles=frozenset(roles), service_roles=frozenset(service_roles)
    )


ADMIN = ctx("ops", "admin")
OWNER_MEMBER = ctx("owner", "member")
OWNER_READER = ctx("owner", "reader")
OTHER_MEMBER = ctx("other", "member")
OTHER_READER = ctx("other", "reader")
IMAGE_MEMBER = ctx("guest", "member")
IMAGE_MEMBER_READER = ctx("guest", "reader")
NO_ROLES = ctx("owner")
NO_PROJECT = ctx(None, "member")
SERVICE = ctx("service", "service")

WHO = {
    "admin": ADMIN,
    "owner_member": OWNER_MEMBER,
    "owner_reader": OWNER_READER,
    "other_member": OTHER_MEMBER,
    "other_reader": OTHER_READER,
    "image_member": IMAGE_MEMBER,
    "image_member_reader": IMAGE_MEMBER_READER,
    "no_roles": NO_ROLES,
    "no_project": NO_PROJECT,
    "service": SERVICE,
}


def target(visibility: str = "private") -> Target:
    return Target(project_id="owner", member_id="guest", visibility=visibility)


@pytest.fixture
def policy() -> Policy:
    return Policy()


def allowed(policy: Policy, rule: str, visibility: str = "private") -> set[str]:
    return {name for name, who in WHO.items() if policy.check(who, rule, target(visibility))}


def test_effective_roles_follow_keystone_implications() -> None:
    assert effective_roles(ctx("p", "admin")) == {"admin", "member", "reader"}
    assert effective_roles(ctx("p", "member")) == {"member", "reader"}
    assert effective_roles(ctx("p", "reader")) == {"reader"}
    assert effective_roles(ctx("p", "observer")) == {"observer"}
    assert effective_roles(ctx("p")) == frozenset()


@pytest.mark.parametrize(
    "rule", ["add_image", "modify_image", "delete_image", "upload_image", "communitize_image", "deactivate",
             "reactivate", "add_member", "delete_member"]
)  # fmt: skip
def test_owner_member_rules(policy: Policy, rule: str) -> None:
    for visibility in ("private", "shared", "community", "public"):
        assert allowed(policy, rule, visibility) == {"admin", "owner_member"}, visibility


@pytest.mark.parametrize("rule", ["publicize_image", "copy_image", "delete_image_location", "context_is_admin"])
def test_admin_only_rules(policy: Policy, rule: str) -> None:
    for visibility in ("private", "public"):
        assert allowed(policy, rule, visibility) == {"admin"}


def test_get_image(policy: Policy) -> None:
    readers = {"admin", "owner_member", "owner_reader", "image_member", "image_member_reader"}
    assert allowed(policy, "get_image", "private") == readers
    everyone_with_a_role = readers | {"other_member", "other_reader", "no_project"}
    for visibility in ("public", "community", "shared"):
        assert allowed(policy, "get_image", visibility) == everyone_with_a_role, visibility


def test_download_image_needs_member_role(policy: Policy) -> None:
    assert allowed(policy, "download_image", "private") == {"admin", "owner_member", "image_member"}
    for visibility in ("public", "community", "shared"):
        assert allowed(policy, "download_image", visibility) == {
            "admin", "owner_member", "image_member", "other_member", "no_project",
        }  # fmt: skip


def test_get_images_is_for_readers_of_their_own_project(policy: Policy) -> None:
    for name, who in WHO.items():
        expected = name in {"admin", "owner_member", "owner_reader", "other_member", "other_reader",
                            "image_member", "image_member_reader"}  # fmt: skip
        assert policy.check(who, "get_images", Target(project_id=who.project_id)) is expected, name


@pytest.mark.parametrize("rule", ["get_member", "get_members"])
def test_member_reading(policy: Policy, rule: str) -> None:
    assert allowed(policy, rule, "shared") == {
        "admin", "owner_member", "owner_reader", "image_member", "image_member_reader",
    }  # fmt: skip


def test_only_the_member_or_admin_modifies_membership_status(policy: Policy) -> None:
    assert allowed(policy, "modify_member", "shared") == {"admin", "image_member"}


def test_stores_info_detail(policy: Policy) -> None:
    assert allowed(policy, "stores_info_detail") == {"admin", "service"}
    assert policy.check(ctx("p", "member", service_roles=("service",)), "stores_info_detail")


def test_default_target_is_the_callers_project(policy: Policy) -> None:
    assert policy.check(OWNER_MEMBER, "add_image")
    assert not policy.check(NO_PROJECT, "add_image")


def test_enforce_raises_forbidden_with_the_rule_name(policy: Policy) -> None:
    policy.enforce(ADMIN, "publicize_image", target())
    with pytest.raises(Forbidden) as caught:
        policy.enforce(OWNER_MEMBER, "publicize_image", target())
    assert caught.value.message == "You are not authorized to complete publicize_image action."


def test_unknown_rule_is_a_programming_error(policy: Policy) -> None:
    with pytest.raises(KeyError):
        policy.check(ADMIN, "no_such_rule")


def test_rules_can_be_replaced() -> None:
    policy = Policy({**DEFAULT_RULES, "publicize_image": lambda c, roles, t: "member" in roles})
    assert policy.check(OWNER_MEMBER, "publicize_image", target())
    assert not Policy().check(OWNER_MEMBER, "publicize_image", target())
    assert Policy({}).rules == {}


def test_defaults_cover_every_rule_the_services_use() -> None:
    assert {
        "context_is_admin", "get_image", "get_images", "add_image", "modify_image", "delete_image", "upload_image",
        "publicize_image", "communitize_image", "deactivate", "reactivate", "download_image", "add_member",
        "delete_member", "get_member", "get_members", "modify_member", "delete_image_location",
        "stores_info_detail",
    } <= set(DEFAULT_RULES)  # fmt: skip
