"""glimpse.policy: oslo.policy with Glance's rule names and secure-RBAC defaults."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import pytest

from glimpse.context import RequestContext
from glimpse.errors import Forbidden
from glimpse.policy import Policy, Target, credentials, effective_roles
from glimpse.policy.rules import artifacts as artifact_rules
from glimpse.policy.rules import catalog as catalog_rules
from glimpse.policy.rules import list_rules
from glimpse.policy.rules import webhooks as webhook_rules


def ctx(
    project: str | None,
    *roles: str,
    service_roles: tuple[str, ...] = (),
    domain: str | None = None,
    system: str | None = None,
) -> RequestContext:
    return RequestContext(
        user_id="u",
        project_id=project,
        roles=frozenset(roles),
        service_roles=frozenset(service_roles),
        domain_id=domain,
        system_scope=system,
    )


ADMIN = ctx("ops", "admin")
OWNER_MANAGER = ctx("owner", "manager")
OWNER_MEMBER = ctx("owner", "member")
OWNER_READER = ctx("owner", "reader")
OTHER_MANAGER = ctx("other", "manager")
OTHER_MEMBER = ctx("other", "member")
OTHER_READER = ctx("other", "reader")
IMAGE_MEMBER = ctx("guest", "member")
IMAGE_MEMBER_READER = ctx("guest", "reader")
NO_ROLES = ctx("owner")
NO_PROJECT = ctx(None, "member")
SERVICE = ctx("service", "service")

WHO = {
    "admin": ADMIN,
    "owner_manager": OWNER_MANAGER,
    "owner_member": OWNER_MEMBER,
    "owner_reader": OWNER_READER,
    "other_manager": OTHER_MANAGER,
    "other_member": OTHER_MEMBER,
    "other_reader": OTHER_READER,
    "image_member": IMAGE_MEMBER,
    "image_member_reader": IMAGE_MEMBER_READER,
    "no_roles": NO_ROLES,
    "no_project": NO_PROJECT,
    "service": SERVICE,
}
MEMBERS = {"owner_manager", "owner_member"}  # of the owner project, with the member role (implied or not)


def target(visibility: str = "private") -> Target:
    return Target(project_id="owner", member_id="guest", visibility=visibility)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy()


@pytest.fixture(scope="module")
def managed() -> Policy:
    return Policy(enable_manager_role=True)


def allowed(policy: Policy, rule: str, visibility: str = "private") -> set[str]:
    return {name for name, who in WHO.items() if policy.check(who, rule, target(visibility))}


def test_effective_roles_follow_keystone_implications() -> None:
    assert effective_roles(ctx("p", "admin")) == {"admin", "manager", "member", "reader"}
    assert effective_roles(ctx("p", "manager")) == {"manager", "member", "reader"}
    assert effective_roles(ctx("p", "member")) == {"member", "reader"}
    assert effective_roles(ctx("p", "reader")) == {"reader"}
    assert effective_roles(ctx("p", "Observer")) == {"observer"}
    assert effective_roles(ctx("p")) == frozenset()


def test_credentials_use_oslo_context_keys_and_leave_out_what_is_unknown() -> None:
    assert credentials(ctx("p", "member", service_roles=("service",), domain="d")) == {
        "roles": ["member", "reader"], "service_roles": ["service"], "is_admin_project": True,
        "user_id": "u", "project_id": "p", "domain_id": "d", "is_admin": False,
    }  # fmt: skip
    assert credentials(ctx("p", "admin"))["is_admin"] is True  # Glare's rules read it
    bare = credentials(RequestContext(user_id=None, project_id=None, system_scope="all"))
    assert bare == {
        "roles": [], "service_roles": [], "is_admin_project": True, "system_scope": "all", "system": "all",
        "is_admin": False,
    }  # fmt: skip
    merged = credentials(ctx("p", "reader", service_roles=("service",)), with_service_roles=True)
    assert merged["roles"] == ["reader", "service"]


@pytest.mark.parametrize(
    "rule", ["modify_image", "delete_image", "upload_image", "communitize_image", "deactivate", "reactivate",
             "add_member", "delete_member", "set_image_location"]
)  # fmt: skip
def test_owner_member_rules(policy: Policy, rule: str) -> None:
    for visibility in ("private", "shared", "community", "public"):
        assert allowed(policy, rule, visibility) == {"admin", *MEMBERS}, visibility


@pytest.mark.parametrize(
    "rule", ["publicize_image", "copy_image", "delete_image_location", "context_is_admin", "tasks_api_access",
             "manage_image_cache", "cache_image", "cache_list", "cache_delete", "cache_clean", "cache_prune",
             "list_cached_nodes", "metadef_admin", "add_metadef_namespace", "delete_metadef_tags"]
)  # fmt: skip
def test_admin_only_rules(policy: Policy, rule: str) -> None:
    for visibility in ("private", "public"):
        assert allowed(policy, rule, visibility) == {"admin"}


def test_get_image(policy: Policy) -> None:
    readers = {"admin", *MEMBERS, "owner_reader", "image_member", "image_member_reader"}
    assert allowed(policy, "get_image", "private") == readers
    everyone_with_a_role = readers | {"other_manager", "other_member", "other_reader", "no_project"}
    for visibility in ("public", "community", "shared"):
        assert allowed(policy, "get_image", visibility) == everyone_with_a_role, visibility


def test_download_image_needs_member_role(policy: Policy) -> None:
    assert allowed(policy, "download_image", "private") == {"admin", *MEMBERS, "image_member"}
    for visibility in ("public", "community", "shared"):
        assert allowed(policy, "download_image", visibility) == {
            "admin", *MEMBERS, "image_member", "other_manager", "other_member", "no_project",
        }  # fmt: skip


def test_get_images_is_for_readers_of_their_own_project(policy: Policy) -> None:
    for name, who in WHO.items():
        expected = name not in {"no_roles", "no_project", "service"}
        assert policy.check(who, "get_images", Target(project_id=who.project_id)) is expected, name


def test_add_image_needs_the_owner_to_be_the_callers_project(policy: Policy) -> None:
    assert policy.check(OWNER_MEMBER, "add_image", Target(project_id="owner"))
    assert not policy.check(OWNER_MEMBER, "add_image", Target(project_id="other"))
    assert policy.check(ADMIN, "add_image", Target(project_id="other"))


@pytest.mark.parametrize("rule", ["get_member", "get_members"])
def test_member_reading(policy: Policy, rule: str) -> None:
    assert allowed(policy, rule, "shared") == {
        "admin", *MEMBERS, "owner_reader", "image_member", "image_member_reader",
    }  # fmt: skip


def test_only_the_member_or_admin_modifies_membership_status(policy: Policy) -> None:
    assert allowed(policy, "modify_member", "shared") == {"admin", "image_member"}


def test_stores_info_detail_is_for_admins_and_services(policy: Policy) -> None:
    assert allowed(policy, "stores_info_detail") == {"admin", "service"}
    # a user's token with a service token carrying the service role (keystonemiddleware's service_roles)
    assert policy.check(ctx("p", "member", service_roles=("service",)), "stores_info_detail")
    assert policy.check(ctx("p", "member", service_roles=("Service",)), "stores_info_detail")
    assert not policy.check(ctx("p", "member", service_roles=("reader",)), "stores_info_detail")


def test_a_service_tokens_admin_role_does_not_make_the_user_an_admin(policy: Policy) -> None:
    user = ctx("other", "member", service_roles=("admin", "service"))
    assert not policy.check(user, "publicize_image", target())
    assert not policy.check(user, "get_image", target("private"))


def test_tasks_rules_pass_on_their_own_the_api_rule_guards_them(policy: Policy) -> None:
    for rule in ("get_task", "get_tasks", "add_task", "modify_task"):
        assert allowed(policy, rule) == set(WHO)


def test_metadef_reading(policy: Policy) -> None:
    public = Target(project_id="owner", visibility="public")
    private = Target(project_id="owner", visibility="private")
    assert policy.check(OTHER_READER, "get_metadef_namespace", public)
    assert not policy.check(OTHER_READER, "get_metadef_namespace", private)
    assert policy.check(OWNER_READER, "get_metadef_namespace", private)
    assert not policy.check(OWNER_MEMBER, "modify_metadef_namespace", private)


def test_project_rules_refuse_system_and_domain_scoped_tokens(policy: Policy) -> None:
    system_admin = ctx(None, "admin", system="all")
    domain_admin = ctx(None, "admin", domain="default")
    for who in (system_admin, domain_admin):
        assert not policy.check(who, "get_image", target("public"))
        assert not policy.check(who, "publicize_image", target())
        assert policy.check(who, "context_is_admin")  # no scope types, as in Glance


def test_default_target_is_the_callers_project(policy: Policy) -> None:
    assert policy.check(OWNER_MEMBER, "add_image")
    assert not policy.check(NO_PROJECT, "add_image")


def test_a_project_less_caller_never_matches_an_absent_member(policy: Policy) -> None:
    # None values are left out of credentials and target: 'project_id:%(member_id)s' cannot match None == None
    assert not policy.check(ctx(None, "reader"), "get_member", Target(project_id="owner", visibility="shared"))


def test_enforce_raises_forbidden_with_the_rule_name(policy: Policy) -> None:
    policy.enforce(ADMIN, "publicize_image", target())
    with pytest.raises(Forbidden) as caught:
        policy.enforce(OWNER_MEMBER, "publicize_image", target())
    assert caught.value.message == "You are not authorized to complete publicize_image action."


def test_unknown_rule_is_a_programming_error(policy: Policy) -> None:
    with pytest.raises(KeyError):
        policy.check(ADMIN, "no_such_rule")


def test_rules_can_be_overridden_in_code() -> None:
    custom = Policy(rules={"publicize_image": "role:member"})
    assert custom.check(OWNER_MEMBER, "publicize_image", target())
    assert not Policy().check(OWNER_MEMBER, "publicize_image", target())


# -- the manager persona ---------------------------------------------------------------------------------


def test_without_the_setting_a_manager_is_a_member(policy: Policy) -> None:
    for rule in (r.name for r in list_rules()):
        for visibility in ("private", "shared", "public"):
            as_manager = policy.check(OWNER_MANAGER, rule, target(visibility))
            assert as_manager == policy.check(OWNER_MEMBER, rule, target(visibility)), rule


@pytest.mark.parametrize("rule", ["copy_image", "delete_image_location"])
def test_a_manager_copies_and_removes_copies_of_its_projects_images(managed: Policy, rule: str) -> None:
    for visibility in ("private", "shared", "community", "public"):
        assert allowed(managed, rule, visibility) == {"admin", "owner_manager"}


def test_a_manager_gains_nothing_else(managed: Policy, policy: Policy) -> None:
    extra = {"copy_image", "delete_image_location", "project_manager"}
    for rule in (r.name for r in list_rules()):
        for visibility in ("private", "shared", "public"):
            for who in WHO.values():
                if rule in extra and who is OWNER_MANAGER:
                    continue
                assert managed.check(who, rule, target(visibility)) == policy.check(who, rule, target(visibility))
    assert not managed.check(OWNER_MANAGER, "publicize_image", target())
    assert not managed.check(OWNER_MANAGER, "context_is_admin", target())


def test_the_manager_persona_can_be_switched_on_by_the_policy_file_too() -> None:
    custom = Policy(rules={"project_manager": "role:manager and project_id:%(project_id)s"})
    assert custom.check(OWNER_MANAGER, "copy_image", target())
    assert not custom.check(OTHER_MANAGER, "copy_image", target())


# -- policy files ----------------------------------------------------------------------------------------


def test_a_glance_policy_yaml_overrides_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        '"publicize_image": "role:admin or (role:member and project_id:%(project_id)s)"\n'
        '"get_image": "rule:context_is_admin or project_id:%(project_id)s"\n'
        '"image_curator": "role:curator"\n'
        '"communitize_image": "rule:image_curator"\n'
    )
    custom = Policy(path)
    assert custom.check(OWNER_MEMBER, "publicize_image", target())
    assert not custom.check(OTHER_MEMBER, "publicize_image", target())
    assert custom.check(NO_ROLES, "get_image", target())
    assert not custom.check(OTHER_READER, "get_image", target("public"))
    assert custom.check(ctx("x", "curator"), "communitize_image", target())
    assert not custom.check(OWNER_MEMBER, "communitize_image", target())
    assert custom.check(OWNER_MEMBER, "modify_image", target())  # not in the file: the default
    assert custom.is_defined("image_curator")
    assert "image_curator" not in custom.rule_names()


def test_a_json_policy_file_works_too(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"publicize_image": "role:member"}))
    assert Policy(path).check(OWNER_MEMBER, "publicize_image", target())


def test_a_relative_policy_file_is_found_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "policy.yaml").write_text('"publicize_image": "role:member"\n')
    monkeypatch.chdir(tmp_path)
    assert Policy(Path("policy.yaml")).check(OWNER_MEMBER, "publicize_image", target())


def test_a_missing_policy_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        Policy(tmp_path / "nope.yaml")


def test_a_changed_policy_file_is_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text('"publicize_image": "role:admin"\n')
    custom = Policy(path, reload_interval=0)
    assert not custom.check(OWNER_MEMBER, "publicize_image", target())
    path.write_text('"publicize_image": "role:member"\n')
    os.utime(path, ns=(1, 1))  # a different mtime even on a coarse clock
    assert custom.check(OWNER_MEMBER, "publicize_image", target())
    path.write_text('"publicize_image": [unbalanced\n')  # broken: the rules in force stay
    os.utime(path, ns=(2, 2))
    assert custom.check(OWNER_MEMBER, "publicize_image", target())


# -- the compiled rules mean what oslo.policy means ----------------------------------------------------

EXOTIC_RULES = {
    "literal_true": "True:%(protected)s",
    "dotted": "service_roles:service",
    "templated_role": "role:%(required_role)s",
    "negated": "not role:reader",
    "dangling": "rule:nobody_defined_this",
    "nothing": "!",
    "anything": "@",
    "user": "user_id:%(user_id)s",
    "mixed": "(role:member or role:admin) and not 'private':%(visibility)s",
    "chain": "rule:negated or rule:literal_true",
}


def test_compiled_rules_agree_with_oslo_policys_enforcer() -> None:
    custom = Policy(enable_manager_role=True, rules=EXOTIC_RULES)
    enforcer = custom.enforcer
    callers = [*WHO.values(), ctx("owner", "member", service_roles=("service",)), ctx(None, "admin", system="all"),
               ctx("owner", "reader", domain="d"), RequestContext(user_id=None, project_id=None)]  # fmt: skip
    targets = [
        Target(project_id=owner, member_id=member, visibility=visibility,
               attributes={"protected": owner == "owner", "required_role": "member", "user_id": "u"})
        for owner, member, visibility in itertools.product(
            ("owner", None), ("guest", None), ("public", "private", "shared", "community", None)
        )
    ]  # fmt: skip
    names = sorted(enforcer.rules)
    assert set(EXOTIC_RULES) <= set(names)
    checked = 0
    for name, caller, tgt in itertools.product(names, callers, targets):
        values, creds = tgt.as_dict(), credentials(caller)
        expected = bool(enforcer.enforce(name, dict(values), dict(creds)))
        if name in custom.rule_names():
            assert custom.check(caller, name, tgt) is expected, (name, caller, values)
        else:
            assert custom.check_defined(caller, name, values, with_service_roles=False) is expected, (name, values)
        checked += 1
    assert checked > 20_000


def test_every_rule_the_services_use_is_registered(policy: Policy) -> None:
    services = Path(__file__).resolve().parents[3] / "src" / "glimpse" / "services"
    used: set[str] = set()
    for source in services.glob("*.py"):
        text = source.read_text()
        for call in ("policy.enforce(ctx, ", "policy.check(ctx, "):
            for chunk in text.split(call)[1:]:
                literal = chunk.split(",", 1)[0].split(")", 1)[0]
                if literal.startswith('"'):
                    used.add(literal.strip('"'))
    assert used, "no policy calls found"
    assert used <= policy.rule_names()


GLANCE_RULES = {
    "default", "context_is_admin", "service_api", "add_image", "delete_image", "get_image", "get_images",
    "modify_image", "publicize_image", "communitize_image", "download_image", "download_from_store",
    "upload_image", "delete_image_location", "get_image_location", "set_image_location", "add_image_location",
    "fetch_image_location", "add_member", "delete_member", "get_member", "get_members", "modify_member",
    "manage_image_cache", "deactivate", "reactivate", "copy_image", "list_cached_nodes", "get_task", "get_tasks",
    "add_task", "modify_task", "tasks_api_access", "cache_image", "cache_list", "cache_delete", "cache_clean",
    "cache_prune", "stores_info_detail", "metadef_default", "metadef_admin", "get_metadef_namespace",
    "get_metadef_namespaces", "modify_metadef_namespace", "add_metadef_namespace", "delete_metadef_namespace",
    "get_metadef_object", "get_metadef_objects", "modify_metadef_object", "add_metadef_object",
    "delete_metadef_object", "list_metadef_resource_types", "get_metadef_resource_type",
    "add_metadef_resource_type_association", "remove_metadef_resource_type_association", "get_metadef_property",
    "get_metadef_properties", "modify_metadef_property", "add_metadef_property", "remove_metadef_property",
    "get_metadef_tag", "get_metadef_tags", "modify_metadef_tag", "add_metadef_tag", "add_metadef_tags",
    "delete_metadef_tag", "delete_metadef_tags",
}  # fmt: skip


def test_every_glance_rule_is_registered(policy: Policy) -> None:
    glare = {rule.name for rule in artifact_rules.rules()}  # the artifacts API's, under Glare's names
    webhooks = {rule.name for rule in webhook_rules.rules()} | {"get_audit_log"}  # /v2/webhooks, /v2/audit
    catalog = {rule.name for rule in catalog_rules.rules()}  # the application catalog's (Glimpse's own API)
    assert policy.rule_names() == GLANCE_RULES | glare | webhooks | catalog | {
        "project_manager",
        "add_metadef_resource_type",
        "delete_metadef_resource_type",
    }  # Glimpse extensions


def test_project_rules_have_project_scope() -> None:
    glare = {rule.name for rule in artifact_rules.rules()}  # Glare's rules had no scope types
    for rule in list_rules():
        if rule.name in glare:
            assert rule.scope_types is None, rule.name
            continue
        expected: Any = None if rule.name in {"default", "context_is_admin", "service_api", "project_manager",
                                              "metadef_default", "metadef_admin"} else ["project"]  # fmt: skip
        assert rule.scope_types == expected, rule.name
