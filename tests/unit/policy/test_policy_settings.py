"""The policy and property-protection options: Glance's INI names, paths found beside the INI file."""

from __future__ import annotations

from pathlib import Path

import pytest

from glimpse.container import build_services
from glimpse.context import RequestContext
from glimpse.policy import Policy, Target
from glimpse.settings import load_settings


def test_defaults() -> None:
    settings = load_settings(env={})
    assert settings.policy_file is None
    assert settings.enable_manager_role is False
    assert settings.property_protection_file is None
    assert settings.property_protection_rule_format == "roles"


def test_glance_option_names_with_paths_relative_to_the_ini_file(tmp_path: Path) -> None:
    config = tmp_path / "glance-api.conf"
    config.write_text(
        "[DEFAULT]\nproperty_protection_file = protections.conf\nproperty_protection_rule_format = policies\n"
        "[oslo_policy]\npolicy_file = rules/policy.yaml\n[glimpse]\nenable_manager_role = true\n"
    )
    settings = load_settings(config, env={})
    assert settings.policy_file == tmp_path / "rules" / "policy.yaml"
    assert settings.property_protection_file == tmp_path / "protections.conf"
    assert settings.property_protection_rule_format == "policies"
    assert settings.enable_manager_role is True


def test_a_policy_yaml_beside_the_ini_file_is_used_as_glance_does(tmp_path: Path) -> None:
    config = tmp_path / "glance-api.conf"
    config.write_text("[DEFAULT]\n")
    assert load_settings(config, env={}).policy_file is None
    (tmp_path / "policy.yaml").write_text('"publicize_image": "role:member"\n')
    assert load_settings(config, env={}).policy_file == tmp_path / "policy.yaml"
    config.write_text("[oslo_policy]\npolicy_file =\n")  # explicitly none
    assert load_settings(config, env={}).policy_file is None


def test_environment(tmp_path: Path) -> None:
    env = {"GLIMPSE_POLICY_FILE": str(tmp_path / "p.yaml"), "GLIMPSE_ENABLE_MANAGER_ROLE": "true"}
    settings = load_settings(env=env)
    assert settings.policy_file == tmp_path / "p.yaml"
    assert settings.enable_manager_role is True


def test_an_unknown_rule_format_is_refused() -> None:
    with pytest.raises(ValueError, match="property_protection_rule_format"):
        load_settings(env={}, property_protection_rule_format="regexes")


def test_the_services_get_the_configured_policy(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text('"publicize_image": "role:member"\n')
    settings = load_settings(
        env={}, data_dir=tmp_path / "data", policy_file=tmp_path / "policy.yaml", enable_manager_role=True
    )
    services = build_services(settings)
    try:
        member = RequestContext(user_id="u", project_id="p", roles=frozenset({"manager"}))
        assert services.policy.check(member, "publicize_image", Target(project_id="p"))
        assert services.policy.check(member, "copy_image", Target(project_id="p"))
        assert services.images.protections is None
    finally:
        services.close()
    assert not Policy().check(member, "copy_image", Target(project_id="p"))
