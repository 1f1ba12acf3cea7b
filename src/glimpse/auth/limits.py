"""Keystone unified limits: the registered (default) limits of Glimpse's service and a project's own.

keystoneauth1 does the signing-in and the HTTP; the calls are blocking and run in worker threads. As with
oslo.limit, a resource with no registered limit has a limit of 0: an operator who turns
``use_keystone_limits`` on registers all four.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session
from keystoneauth1.identity import v3

from glimpse.domain.quotas import RESOURCES, Resource
from glimpse.errors import IdentityUnavailable
from glimpse.settings import KeystoneAuthSettings, OsloLimitSettings


def identity_v3(auth_url: str) -> str:
    """``http://host:5000`` or ``http://host:5000/v3`` -> ``http://host:5000/v3``."""
    base = auth_url.rstrip("/")
    return base if base.endswith("/v3") else base + "/v3"


def build_limit_session(conf: OsloLimitSettings, fallback: KeystoneAuthSettings) -> tuple[session.Session, str]:
    """Sign in with ``[oslo_limit]``'s credentials, or the ``[keystone_authtoken]`` service user's; returns
    the session and the identity v3 URL."""
    own = bool(conf.auth_url and conf.username and conf.password is not None)
    password = conf.password if own else fallback.password
    auth_url = conf.auth_url if own else fallback.auth_url
    if not auth_url or password is None:
        raise ValueError("use_keystone_limits needs [oslo_limit] (or [keystone_authtoken]) credentials")
    options: dict[str, Any] = {
        "auth_url": identity_v3(auth_url),
        "username": conf.username if own else fallback.username,
        "password": password.get_secret_value(),
        "user_domain_name": conf.user_domain_name if own else fallback.user_domain_name,
        "user_domain_id": conf.user_domain_id if own else fallback.user_domain_id,
    }
    if conf.system_scope:
        options["system_scope"] = conf.system_scope
    else:
        options["project_name"] = conf.project_name if own else fallback.project_name
        options["project_domain_name"] = conf.project_domain_name if own else fallback.project_domain_name
        options["project_domain_id"] = conf.project_domain_id if own else fallback.project_domain_id
    verify: bool | str = False if conf.insecure else (conf.cafile or True)
    keystone = session.Session(auth=v3.Password(**options), verify=verify, timeout=10, app_name="glimpse")
    return keystone, identity_v3(auth_url)


class KeystoneLimits:
    """The limits of a project, read from Keystone (cached ``cache_time`` seconds)."""

    def __init__(
        self,
        conf: OsloLimitSettings,
        keystone: session.Session,
        identity_url: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.conf = conf
        self.keystone = keystone
        self.identity_url = identity_url
        self.clock = clock
        self._service: tuple[str, str | None] | None = None
        self._cache: dict[str, tuple[float, dict[Resource, int]]] = {}
        self._lock = threading.Lock()

    async def limits(self, project_id: str) -> dict[Resource, int]:
        cached = self._cache.get(project_id)
        if cached is not None and self.clock() - cached[0] < self.conf.cache_time:
            return cached[1]
        found = await anyio.to_thread.run_sync(self._fetch, project_id)
        if self.conf.cache_time:
            self._cache[project_id] = (self.clock(), found)
        return found

    def _get(self, path: str, **params: str) -> Any:
        try:
            response = self.keystone.get(self.identity_url + path, params=params)
        except ks_exc.ClientException as exc:
            raise IdentityUnavailable(f"Could not read the unified limits from Keystone: {exc}") from exc
        return response.json()

    def _service_and_region(self) -> tuple[str, str | None]:
        with self._lock:
            if self._service is None:
                if self.conf.endpoint_id:
                    endpoint = self._get(f"/endpoints/{self.conf.endpoint_id}")["endpoint"]
                    self._service = (endpoint["service_id"], endpoint.get("region_id"))
                else:
                    query = {"type": self.conf.endpoint_service_type}
                    if self.conf.endpoint_service_name:
                        query["name"] = self.conf.endpoint_service_name
                    services = self._get("/services", **query)["services"]
                    if not services:
                        raise IdentityUnavailable(
                            f"Keystone has no {self.conf.endpoint_service_type!r} service to read limits for"
                        )
                    self._service = (services[0]["id"], self.conf.endpoint_region_name or None)
            return self._service

    def _fetch(self, project_id: str) -> dict[Resource, int]:
        service_id, region_id = self._service_and_region()
        scope = {"service_id": service_id, **({"region_id": region_id} if region_id else {})}
        registered = self._get("/registered_limits", **scope)["registered_limits"]
        own = self._get("/limits", project_id=project_id, **scope)["limits"]
        found = dict.fromkeys(RESOURCES, 0)
        names = {resource.value: resource for resource in RESOURCES}
        for row in registered:
            if row["resource_name"] in names:
                found[names[row["resource_name"]]] = int(row["default_limit"])
        for row in own:
            if row["resource_name"] in names and row.get("project_id") in (project_id, None):
                found[names[row["resource_name"]]] = int(row["resource_limit"])
        return found
