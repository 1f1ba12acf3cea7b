"""A person's own Keystone session and catalog, against the real Keystone of scripts/keystone-up with the
orchestration endpoints scripts/heat-up registers: the token is the person's own, unchanged."""

from __future__ import annotations

import pytest

from glimpse.auth.catalog import NoEndpoint, user_session
from glimpse.errors import IdentityUnavailable, Unauthorized
from glimpse.settings import KeystoneAuthSettings
from tests.heat import KEYSTONE_URL, password_session

CONF = KeystoneAuthSettings(auth_url=KEYSTONE_URL, http_connect_timeout=5)


def token_and_project(user: str) -> tuple[str, str]:
    keystone = password_session(user)
    token = keystone.get_token()
    assert token is not None
    return token, str(keystone.get_project_id())


def test_the_catalog_of_the_persons_own_token(heat: str) -> None:
    token, project = token_and_project("alpha-member")
    found = user_session(CONF, token, "orchestration", "public", None, timeout=7)
    assert found.endpoint == f"{heat}/v1/{project}"
    assert found.session.get_token() == token  # not re-scoped, not a new token
    assert found.session.timeout == 7


def test_no_endpoint_in_that_region(heat: str) -> None:
    token, _ = token_and_project("alpha-member")
    with pytest.raises(NoEndpoint, match="no public orchestration endpoint in region InteropGlimpse"):
        user_session(CONF, token, "orchestration", "public", "InteropGlimpse", timeout=7)


def test_a_token_keystone_does_not_know(heat: str) -> None:
    with pytest.raises(Unauthorized):
        user_session(CONF, "gAAAAAnot-a-token", "orchestration", "public", None, timeout=7)


def test_keystone_out_of_reach() -> None:
    conf = KeystoneAuthSettings(auth_url="http://127.0.0.1:9", http_connect_timeout=2)
    with pytest.raises(IdentityUnavailable):
        user_session(conf, "anything", "orchestration", "public", None, timeout=7)
