"""The audit log (a Glimpse extension: GET /v2/audit)."""

from __future__ import annotations

from oslo_policy.policy import RuleDefault

from glimpse.policy.rules.common import ADMIN, rule


def rules() -> list[RuleDefault]:
    return [rule("get_audit_log", ADMIN, "Read the audit log of every project.", ("GET", "/v2/audit"))]
