"""Discovery: the stores' details."""

from __future__ import annotations

from oslo_policy.policy import RuleDefault

from glimpse.policy.rules.common import ADMIN_OR_SERVICE, rule


def rules() -> list[RuleDefault]:
    return [
        rule("stores_info_detail", ADMIN_OR_SERVICE, "Show the stores with their type and backend details.",
             ("GET", "/v2/info/stores/detail")),
    ]  # fmt: skip
