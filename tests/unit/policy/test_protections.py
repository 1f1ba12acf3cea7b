"""glimpse.policy.protections: Glance's property protections file, in the roles and the policies format."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from glimpse.context import RequestContext
from glimpse.errors import Forbidden
from glimpse.policy import Policy, PropertyProtections
from glimpse.policy.protections import RuleFormat, parse

ETC = Path(__file__).resolve().parents[3] / "etc"


def who(*roles: str, service_roles: tuple[str, ...] = (), project: str = "p") -> RequestContext:
    return RequestContext(
        user_id="u", project_id=project, roles=frozenset(roles), service_roles=frozenset(service_roles)
    )


ADMIN = who("admin")
MEMBER = who("member")
READER = who("reader")
SERVICE_FOR_READER = who("reader", service_roles=("service",))
NOBODY_IN_PARTICULAR = who()


def protections(text: str, rule_format: RuleFormat = "roles", policy: Policy | None = None) -> PropertyProtections:
    return PropertyProtections(parse(text, rule_format), rule_format, policy or Policy())


def can(rules: PropertyProtections, caller: RequestContext, name: str) -> str:
    """Which of c, r, u, d the caller may do to the property: e.g. 'cr--'."""
    return "".join(
        op[0] if rules.allows(caller, name, op) else "-" for op in ("create", "read", "update", "delete")
    )


ROLES = """
[^x_owner_]
create = admin,member
read = admin,member
update = admin
delete = admin

[^x_]
create = @
read = @
update = @
delete = !

[billing]
create = service
read = admin, Service
update = service
delete =
"""


def test_the_first_section_found_in_the_name_decides() -> None:
    rules = protections(ROLES)
    assert can(rules, MEMBER, "x_owner_code") == "cr--"
    assert can(rules, ADMIN, "x_owner_code") == "crud"
    assert can(rules, READER, "x_owner_code") == "----"
    assert can(rules, READER, "x_free") == "cru-"
    assert can(rules, ADMIN, "x_free") == "cru-"  # '!' is nobody, admins included
    # re.search, not a full match: 'billing' anywhere in the name
    assert can(rules, SERVICE_FOR_READER, "my_billing_code") == "cru-"


def test_a_property_no_section_matches_is_untouchable() -> None:
    rules = protections(ROLES)
    for caller in (ADMIN, MEMBER, SERVICE_FOR_READER):
        assert can(rules, caller, "os_distro") == "----"


def test_order_matters_a_broad_section_first_hides_the_rest() -> None:
    rules = protections("[.*]\ncreate = @\nread = @\nupdate = @\ndelete = @\n" + ROLES)
    assert can(rules, READER, "x_owner_code") == "crud"


def test_roles_count_with_their_implications_and_the_service_tokens_roles() -> None:
    rules = protections(ROLES)
    assert can(rules, who("manager"), "x_owner_code") == "cr--"  # manager implies member
    assert can(rules, READER, "billing") == "----"
    assert can(rules, SERVICE_FOR_READER, "billing") == "cru-"  # service token: service may; empty delete: nobody
    assert can(rules, who("SERVICE"), "billing") == "cru-"  # role names are case-insensitive


def test_who_cannot_read_cannot_update_or_delete() -> None:
    rules = protections("[.*]\ncreate = member\nread = admin\nupdate = member\ndelete = member\n")
    assert can(rules, MEMBER, "anything") == "c---"
    assert can(rules, ADMIN, "anything") == "crud"


def test_the_servers_own_properties_are_readable_by_everyone(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        rules = protections("[os_glance.*]\ncreate = !\nread = !\nupdate = !\ndelete = !\n" + ROLES)
    assert "os_glance" in caplog.text
    assert can(rules, NOBODY_IN_PARTICULAR, "os_glance_import_task") == "crud"  # writes are refused elsewhere
    assert rules.readable(READER, {"os_glance_failed_import": "", "x_owner_code": "1", "x_free": "2"}) == {
        "os_glance_failed_import": "",
        "x_free": "2",
    }


def test_enforce_raises_forbidden_naming_the_property() -> None:
    rules = protections(ROLES)
    rules.enforce(MEMBER, "x_owner_code", "create")
    with pytest.raises(Forbidden, match="x_owner_code"):
        rules.enforce(MEMBER, "x_owner_code", "update")


def test_defaults_section_values_apply_to_every_section() -> None:
    # configparser's [DEFAULT] semantics, as Glance reads the file
    rules = protections("[DEFAULT]\nread = @\n[^x_]\ncreate = admin\nupdate = admin\ndelete = admin\n")
    assert can(rules, READER, "x_a") == "-r--"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[x_\ncreate = @\n", "not a valid INI file"),
        ("[x_(]\ncreate = @\nread = @\nupdate = @\ndelete = @\n", "not a valid regular expression"),
        ("[x_]\ncreate = @\nread = @\nupdate = @\n", "does not say who may delete"),
        ("[x_]\ncreate = @,!\nread = @\nupdate = @\ndelete = @\n", "cannot both be given"),
    ],
)
def test_malformed_files_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(text, "roles")


def test_an_empty_value_allows_nobody_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        rules = protections("[.*]\ncreate =\nread = @\nupdate = @\ndelete = @\n")
    assert "nobody may create" in caplog.text
    assert can(rules, ADMIN, "a") == "-rud"


# -- the policies format ---------------------------------------------------------------------------------

POLICY_RULES = {
    "property_writer": "role:admin or role:service",
    "property_reader": "role:reader",
    "members": "role:member and project_id:p",
}
POLICIES = """
[^x_svc_]
create = property_writer
read = property_reader
update = property_writer
delete = !

[.*]
create = members
read = @
update = members
delete = members
"""


def test_the_policies_format_checks_the_named_rules() -> None:
    rules = protections(POLICIES, "policies", Policy(rules=POLICY_RULES))
    assert can(rules, READER, "x_svc_id") == "-r--"
    assert can(rules, SERVICE_FOR_READER, "x_svc_id") == "cru-"  # the service token's roles count
    assert can(rules, ADMIN, "x_svc_id") == "cru-"
    assert can(rules, MEMBER, "x_other") == "crud"
    assert can(rules, who("member", project="q"), "x_other") == "-r--"


def test_the_policies_format_takes_one_rule_per_operation() -> None:
    with pytest.raises(ValueError, match="one rule per operation"):
        parse("[.*]\ncreate = a,b\nread = @\nupdate = @\ndelete = @\n", "policies")


def test_a_rule_that_nobody_defines_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="'property_writer'"):
        protections(POLICIES, "policies", Policy(rules={"members": "role:member"}))


def test_the_policies_format_uses_the_policy_file(tmp_path: Path) -> None:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text("".join(f'"{name}": "{check}"\n' for name, check in POLICY_RULES.items()))
    config = tmp_path / "protections.conf"
    config.write_text(POLICIES)
    rules = PropertyProtections.load(config, "policies", Policy(policy_file))
    assert can(rules, SERVICE_FOR_READER, "x_svc_id") == "cru-"


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read property_protection_file"):
        PropertyProtections.load(tmp_path / "nope.conf", "roles", Policy())


# -- the shipped samples mean what they say ------------------------------------------------------------


def test_the_roles_sample() -> None:
    rules = PropertyProtections.load(ETC / "property-protections-roles.conf.sample", "roles", Policy())
    assert can(rules, MEMBER, "hw_firmware_type") == "-r--"
    assert can(rules, who("member", service_roles=("service",)), "hw_firmware_type") == "crud"
    assert can(rules, MEMBER, "internal_cost_center") == "----"
    assert can(rules, who("manager"), "billing_code") == "-r--"
    assert can(rules, MEMBER, "x_team") == "crud"
    assert can(rules, READER, "os_distro") == "-r--"


def test_the_policies_sample() -> None:
    policy = Policy(
        rules={
            "property_writer": "role:admin or role:service",
            "property_reader": "role:reader or role:service",
            "operators_only": "role:admin",
            "project_members": "role:member",
        }
    )
    rules = PropertyProtections.load(ETC / "property-protections-policies.conf.sample", "policies", policy)
    assert can(rules, MEMBER, "hw_firmware_type") == "-r--"
    assert can(rules, who("reader", service_roles=("service",)), "hw_firmware_type") == "crud"
    assert can(rules, MEMBER, "internal_cost_center") == "----"
    assert can(rules, MEMBER, "x_team") == "crud"
