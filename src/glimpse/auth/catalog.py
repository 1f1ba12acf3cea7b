"""A signed-in person's own Keystone session, for calling the cloud's other services as that person (the dashboard
launching stacks): their token, unchanged, and the service catalog Keystone issued with it.

Keystone is asked about the token with the token itself (``GET /v3/auth/tokens`` with it as both
``X-Auth-Token`` and ``X-Subject-Token``; Keystone's policy lets a token's own user validate it), so the catalog
is exactly the one of that token's scope, nothing is re-scoped and no new token is made. keystoneauth1 reads the
answer (``access.create``) and wraps it in an ``AccessInfoPlugin``, which clients such as openstacksdk use as
they would a password sign-in. The calls are blocking: callers run them on worker threads.
"""

from __future__ import annotations

from dataclasses import dataclass

from keystoneauth1 import access, exceptions, session
from keystoneauth1.identity.access import AccessInfoPlugin

from glimpse.errors import GlimpseError, IdentityUnavailable, Unauthorized
from glimpse.settings import KeystoneAuthSettings


class NoEndpoint(GlimpseError):
    """The person's Keystone catalog names no endpoint of the service asked for (in that region and interface)."""


@dataclass(frozen=True, slots=True)
class UserSession:
    """A keystoneauth1 session authenticated with the person's own token, and the endpoint it was asked for."""

    session: session.Session
    endpoint: str


def identity_url(conf: KeystoneAuthSettings) -> str:
    """The public identity v3 URL people sign in at."""
    base = (conf.www_authenticate_uri or conf.auth_url).rstrip("/")
    return base if base.endswith("/v3") else base + "/v3"


def user_session(
    conf: KeystoneAuthSettings, token: str, service_type: str, interface: str, region: str | None, timeout: float
) -> UserSession:
    """The person's session (its calls time out after ``timeout`` seconds) and their catalog's ``service_type``
    endpoint (blocking).

    A token Keystone no longer accepts: Unauthorized; Keystone unreachable or answering nonsense:
    IdentityUnavailable; no such endpoint in the catalog: NoEndpoint."""
    verify: bool | str = False if conf.insecure else (conf.cafile or True)
    keystone = session.Session(verify=verify, timeout=conf.http_connect_timeout, app_name="glimpse")
    url = identity_url(conf)
    try:
        response = keystone.get(f"{url}/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token},
                                raise_exc=False, log=False)  # fmt: skip
    except exceptions.ClientException as exc:
        raise IdentityUnavailable(f"The identity service cannot be reached: {type(exc).__name__}") from None
    if response.status_code in (401, 403, 404):
        raise Unauthorized("The session's token is no longer valid: sign in again.")
    if response.status_code != 200:
        raise IdentityUnavailable(f"The identity service answered {response.status_code}")
    try:
        ref = access.create(resp=response)
    except (KeyError, TypeError, ValueError):
        raise IdentityUnavailable("The identity service's answer about the token cannot be read") from None
    where = f" in region {region}" if region else ""
    try:
        endpoint = ref.service_catalog.url_for(service_type=service_type, interface=interface, region_name=region)
    except exceptions.EndpointNotFound:
        endpoint = None
    if not endpoint:
        raise NoEndpoint(f"Your Keystone catalog has no {interface} {service_type} endpoint{where}.")
    plugin = AccessInfoPlugin(ref, auth_url=url)
    return UserSession(session.Session(auth=plugin, verify=verify, timeout=timeout, app_name="glimpse"), endpoint)
