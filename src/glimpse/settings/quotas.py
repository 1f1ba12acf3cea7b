"""Quotas: Glimpse's own, or Keystone's unified limits read through ``[oslo_limit]``."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from glimpse.settings.sources import Ini, IniSection


class OsloLimitSettings(BaseModel):
    """``[oslo_limit]``, with oslo.limit's option names: how Glimpse reads Keystone's unified limits.

    The credentials default to ``[keystone_authtoken]``'s service user; reading other projects' limits needs
    a reader role on the system scope (``system_scope = all``), as oslo.limit documents.
    """

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    endpoint_id: str = ""
    # without endpoint_id, the service is found by type (and name) and the region by name
    endpoint_service_type: str = "image"
    endpoint_service_name: str = ""
    endpoint_region_name: str = ""
    auth_url: str = ""
    username: str = ""
    password: SecretStr | None = None
    user_domain_name: str | None = None
    user_domain_id: str | None = None
    system_scope: str | None = None
    project_name: str | None = None
    project_domain_name: str | None = None
    project_domain_id: str | None = None
    cafile: str | None = None
    insecure: bool = False
    # Glimpse: seconds a project's limits are reused before Keystone is asked again (0: ask every time)
    cache_time: float = Field(default=0.0, ge=0)


class QuotaGroup(BaseModel):
    """Settings' fields choosing where quotas come from."""

    # quotas: Keystone unified limits when true, else Glimpse's own (`glimpse quota set`; none: unlimited)
    use_keystone_limits: Annotated[bool, Ini("DEFAULT", "use_keystone_limits")] = False
    oslo_limit: Annotated[OsloLimitSettings, IniSection("oslo_limit")] = Field(default_factory=OsloLimitSettings)
