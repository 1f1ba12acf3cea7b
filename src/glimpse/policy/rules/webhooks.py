"""Webhooks (a Glimpse extension: /v2/webhooks)."""

from __future__ import annotations

from oslo_policy.policy import RuleDefault

from glimpse.policy.rules.common import ADMIN, ADMIN_OR_PROJECT_MEMBER, ADMIN_OR_PROJECT_READER, rule

WEBHOOK = "/v2/webhooks/{webhook_id}"


def rules() -> list[RuleDefault]:
    return [
        rule("add_webhook", ADMIN_OR_PROJECT_MEMBER, "Add a webhook receiving the events of one's own project.",
             ("POST", "/v2/webhooks")),
        rule("add_global_webhook", ADMIN, "Add a webhook receiving the events of every project.",
             ("POST", "/v2/webhooks")),
        rule("get_webhooks", ADMIN_OR_PROJECT_READER, "List a project's webhooks (an admin: every webhook).",
             ("GET", "/v2/webhooks")),
        rule("get_webhook", ADMIN_OR_PROJECT_READER, "Show a webhook and its delivery log.",
             ("GET", WEBHOOK), ("GET", f"{WEBHOOK}/deliveries")),
        rule("modify_webhook", ADMIN_OR_PROJECT_MEMBER,
             "Change a webhook's status (re-enable a disabled one), events or description.", ("PATCH", WEBHOOK)),
        rule("delete_webhook", ADMIN_OR_PROJECT_MEMBER, "Delete a webhook.", ("DELETE", WEBHOOK)),
    ]  # fmt: skip
