"""The keystoneauth1 session signed in as Glimpse's service user (``[keystone_authtoken]``)."""

from __future__ import annotations

from typing import Any

from keystoneauth1 import plugin, session
from keystoneauth1.identity import generic, v3

from glimpse.settings import KeystoneAuthSettings


def build_session(conf: KeystoneAuthSettings) -> session.Session:
    """A keystoneauth1 session signed in as the service user (password plugin)."""
    assert conf.password is not None
    options: dict[str, Any] = {
        "auth_url": conf.auth_url,
        "username": conf.username,
        "password": conf.password.get_secret_value(),
        "project_name": conf.project_name,
        "user_domain_name": conf.user_domain_name,
        "user_domain_id": conf.user_domain_id,
        "project_domain_name": conf.project_domain_name,
        "project_domain_id": conf.project_domain_id,
    }
    auth: plugin.BaseAuthPlugin = (
        v3.Password(**options) if conf.auth_type == "v3password" else generic.Password(**options)
    )
    verify: bool | str = False if conf.insecure else (conf.cafile or True)
    return session.Session(
        auth=auth,
        verify=verify,
        timeout=conf.http_connect_timeout,
        app_name="glimpse",
    )
