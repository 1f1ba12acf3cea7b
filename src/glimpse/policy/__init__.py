"""Policy at the API layer: oslo.policy with Glance's rule names and secure-RBAC defaults."""

from glimpse.policy.engine import Policy, Target, credentials, effective_roles
from glimpse.policy.protections import PropertyProtections

__all__ = ["Policy", "PropertyProtections", "Target", "credentials", "effective_roles"]
