"""The tasks API."""

from __future__ import annotations

from oslo_policy.policy import RuleDefault

from glimpse.policy.rules.common import ADMIN, DEFAULT, rule

_NOTE = (
    "\n\nThe tasks API is guarded as a whole by ``tasks_api_access``; this rule is checked after it and "
    "is there so that policy files written for Glance keep their meaning."
)


def rules() -> list[RuleDefault]:
    return [
        rule("get_task", DEFAULT, "Show a task." + _NOTE, ("GET", "/v2/tasks/{task_id}")),
        rule("get_tasks", DEFAULT, "List tasks." + _NOTE, ("GET", "/v2/tasks")),
        rule("add_task", DEFAULT, "Create a task." + _NOTE, ("POST", "/v2/tasks")),
        rule("modify_task", DEFAULT, "Never checked; kept so that policy files naming it stay valid.",
             ("DELETE", "/v2/tasks/{task_id}")),
        rule("tasks_api_access", ADMIN, "Use the tasks API at all.",
             ("GET", "/v2/tasks/{task_id}"), ("GET", "/v2/tasks"), ("POST", "/v2/tasks"),
             ("DELETE", "/v2/tasks/{task_id}")),
    ]  # fmt: skip
