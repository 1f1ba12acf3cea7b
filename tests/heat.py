"""What the stack tests share: the test accounts of scripts/keystone-up signing in with their passwords, and a Heat
template that needs no other service than Heat (OS::Heat::RandomString and OS::Heat::None). The Heat itself is
the session fixture ``heat`` (tests/conftest.py, scripts/heat-up)."""

from __future__ import annotations

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

KEYSTONE_URL = "http://127.0.0.1:5000"  # scripts/keystone-up
USER_PASSWORD = "glimpse-test-password"  # every <project>-<role> user of scripts/keystone_accounts.py
KEYSTONE_CONFIG = f"""\
[paste_deploy]
flavor = keystone

[keystone_authtoken]
auth_url = {KEYSTONE_URL}
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = glimpse
password = glimpse-service-password
interface = public

[artifacts]
mount = /glare
"""
"""A `glimpse serve` signing people in with the real Keystone (the service user of scripts/keystone_accounts.py),
with the artifacts API mounted at /glare."""
TEMPLATE = b"""heat_template_version: 2021-04-16
description: A random word, made by Heat alone
parameters:
  length: {type: number, default: 8}
resources:
  word:
    type: OS::Heat::RandomString
    properties: {length: {get_param: length}}
  marker:
    type: OS::Heat::None
outputs:
  word: {value: {get_attr: [word, value]}}
"""


def password_session(user: str) -> ks_session.Session:
    """A Keystone session of ``<project>-<role>``, scoped to its project."""
    auth = v3.Password(
        auth_url=f"{KEYSTONE_URL}/v3", username=user, password=USER_PASSWORD, project_name=user.split("-")[0],
        user_domain_name="Default", project_domain_name="Default",
    )  # fmt: skip
    return ks_session.Session(auth=auth, timeout=30)


def token_of(user: str) -> str:
    token = password_session(user).get_token()
    assert token is not None
    return token
