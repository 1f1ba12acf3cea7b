"""The helper rules the others refer to: ``default``, ``context_is_admin``, ``service_api`` and Glimpse's
``project_manager``."""

from __future__ import annotations

from oslo_policy.policy import RuleDefault

from glimpse.policy.rules.common import PROJECT_MANAGER


def rules(enable_manager_role: bool) -> list[RuleDefault]:
    manager = PROJECT_MANAGER if enable_manager_role else "!"
    return [
        RuleDefault(
            "default",
            "",
            description="Used for any rule a policy file references but nobody defines. Empty: always passes.",
        ),
        RuleDefault("context_is_admin", "role:admin", description="Who counts as an administrator of the cloud."),
        RuleDefault(
            "service_api",
            "role:service or service_roles:service or role:admin",
            description=(
                "Service-to-service calls: a token with the service role, or a user's token that arrives "
                "together with a service token carrying the service role (X-Service-Token)."
            ),
        ),
        RuleDefault(
            "project_manager",
            manager,
            description=(
                "Glimpse's manager persona: a manager of the image's own project. Nobody ('!') unless "
                "[glimpse] enable_manager_role = true, then 'role:manager and project_id:%(project_id)s'. "
                "copy_image and delete_image_location accept it; override it here to switch the persona on "
                "or off independently of the setting."
            ),
        ),
    ]
