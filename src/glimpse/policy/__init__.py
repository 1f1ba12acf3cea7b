"""Policy at the API layer: rules as code, with Glance's names and secure-RBAC defaults."""

from glimpse.policy.rules import Policy, Target

__all__ = ["Policy", "Target"]
