"""Policy: an oslo.policy file over the rules in code, the manager persona, property protections."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel

from glimpse.settings.sources import Env, Ini


class PolicyGroup(BaseModel):
    """Settings' fields for the policy rules."""

    # policy: an oslo.policy file over the defaults in code; the opt-in manager persona (docs/policy.md)
    policy_file: Annotated[Path | None, Ini("oslo_policy", "policy_file"), Env("GLIMPSE_POLICY_FILE")] = None
    enable_manager_role: Annotated[bool, Ini("glimpse", "enable_manager_role"), Env("GLIMPSE_ENABLE_MANAGER_ROLE")] = (
        False
    )


class PropertyProtectionGroup(BaseModel):
    """Settings' fields for property protections."""

    # property protections (Glance's format; no file: no protections)
    property_protection_file: Annotated[Path | None, Ini("DEFAULT", "property_protection_file")] = None
    property_protection_rule_format: Annotated[
        Literal["roles", "policies"], Ini("DEFAULT", "property_protection_rule_format")
    ] = "roles"
