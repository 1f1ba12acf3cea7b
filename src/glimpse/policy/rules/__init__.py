"""Every Glance policy rule, registered in code under Glance's name with its secure-RBAC default.

The names and default check strings are Glance's (project scope; roles admin / member / reader and the
``service`` role), so an operator's Glance ``policy.yaml`` overrides them unchanged. Two departures, both
documented in docs/policy.md:

- ``service_api`` also accepts a service token carrying the ``service`` role (``service_roles:service``),
  the way keystonemiddleware hands it over with a user's token;
- ``project_manager`` is Glimpse's own helper rule: ``!`` (nobody) unless ``[glimpse] enable_manager_role``
  is set, then a ``manager`` of the image's project. ``copy_image`` and ``delete_image_location`` accept it.

One module per resource, each with ``rules()``; the helper rules they refer to are in :mod:`.base`. A new
resource adds its module and one line to :data:`RESOURCES`. The descriptions are written for Glimpse;
``glimpse policy sample`` prints them with the defaults.
"""

from __future__ import annotations

from oslo_policy.policy import RuleDefault

from glimpse.policy.rules import (
    artifacts,
    audit,
    base,
    cache,
    catalog,
    discovery,
    images,
    locations,
    members,
    metadefs,
    tasks,
    webhooks,
)
from glimpse.policy.rules.common import Resource

RESOURCES: tuple[Resource, ...] = (
    images,
    locations,
    members,
    tasks,
    cache,
    discovery,
    metadefs,
    webhooks,
    audit,
    artifacts,
    catalog,
)


def list_rules(enable_manager_role: bool = False) -> list[RuleDefault]:
    """Every rule, in the order ``glimpse policy sample`` prints them."""
    return [*base.rules(enable_manager_role), *(rule for resource in RESOURCES for rule in resource.rules())]
