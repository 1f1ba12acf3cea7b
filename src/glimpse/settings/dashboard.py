"""The Applications dashboard at /dashboard (docs/dashboard.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr

from glimpse.settings.sources import Env, Ini


class DashboardGroup(BaseModel):
    """Settings' fields for the dashboard: its session cookie is encrypted and signed with a Fernet key (none:
    <data_dir>/dashboard.key, made on first use), lives session_ttl seconds and is sent over HTTPS only unless
    cookie_secure is off (a development server on plain HTTP). Stacks are launched through the orchestration
    endpoint of the signed-in person's Keystone catalog, servers through its compute endpoint: that interface, in
    region_name (none: the first one), each call to Heat bounded by orchestration_timeout seconds, each call to
    Nova by compute_timeout."""

    dashboard_enabled: Annotated[bool, Ini("dashboard", "enabled"), Env("GLIMPSE_DASHBOARD")] = True
    dashboard_secret_key: Annotated[
        SecretStr | None, Ini("dashboard", "secret_key"), Env("GLIMPSE_DASHBOARD_SECRET_KEY")
    ] = None
    dashboard_session_ttl: Annotated[int, Ini("dashboard", "session_ttl")] = Field(default=3600, gt=0)
    dashboard_cookie_secure: Annotated[
        bool, Ini("dashboard", "cookie_secure"), Env("GLIMPSE_DASHBOARD_COOKIE_SECURE")
    ] = True
    dashboard_endpoint_interface: Annotated[
        Literal["public", "internal", "admin"], Ini("dashboard", "endpoint_interface")
    ] = "public"
    dashboard_region_name: Annotated[str | None, Ini("dashboard", "region_name")] = None
    dashboard_orchestration_timeout: Annotated[float, Ini("dashboard", "orchestration_timeout")] = Field(
        default=30.0, gt=0
    )
    dashboard_compute_timeout: Annotated[float, Ini("dashboard", "compute_timeout")] = Field(default=30.0, gt=0)
