"""Signing a person in at Keystone with a password (the dashboard's sign-in form): a project-scoped token."""

from __future__ import annotations

import anyio.to_thread
from keystoneauth1 import exceptions, session
from keystoneauth1.identity import v3

from glimpse.errors import IdentityUnavailable, Unauthorized
from glimpse.settings import KeystoneAuthSettings


async def password_token(conf: KeystoneAuthSettings, username: str, password: str, project: str, domain: str) -> str:
    """The token Keystone issues to ``username`` scoped to ``project`` (both in ``domain``, by name).

    Wrong credentials, or a project the user has no role on: Unauthorized; Keystone unreachable: IdentityUnavailable.
    """
    auth = v3.Password(
        auth_url=conf.www_authenticate_uri or conf.auth_url,
        username=username,
        password=password,
        user_domain_name=domain,
        project_name=project,
        project_domain_name=domain,
    )
    verify: bool | str = False if conf.insecure else (conf.cafile or True)
    keystone = session.Session(auth=auth, verify=verify, timeout=conf.http_connect_timeout, app_name="glimpse")
    try:
        token = await anyio.to_thread.run_sync(keystone.get_token)
    except exceptions.Unauthorized:
        raise Unauthorized("The user name, password or project is not right.") from None
    except (exceptions.ConnectFailure, exceptions.DiscoveryFailure, exceptions.ConnectionError) as exc:
        raise IdentityUnavailable(f"The identity service cannot be reached: {type(exc).__name__}") from None
    except exceptions.HttpError as exc:
        if exc.http_status is not None and exc.http_status < 500:
            raise Unauthorized("The user name, password or project is not right.") from None
        raise IdentityUnavailable(f"The identity service answered {exc.http_status}") from None
    if not token:
        raise Unauthorized("The user name, password or project is not right.")
    return str(token)
