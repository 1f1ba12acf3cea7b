"""The real Heat of scripts/heat-up through Keystone, as a cloud's users reach it: openstacksdk signs in with a
password, finds the `orchestration` endpoint in the catalog and creates, shows, lists and deletes a stack whose
resources need no other service (OS::Heat::RandomString, OS::Heat::None). Another project never sees it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import openstack.connection
import pytest
from openstack import exceptions

pytestmark = pytest.mark.e2e

KEYSTONE_URL = "http://127.0.0.1:5000/v3"  # scripts/keystone-up
USER_PASSWORD = "glimpse-test-password"  # scripts/keystone_accounts.py
TEMPLATE: dict[str, Any] = {
    "heat_template_version": "2021-04-16",
    "parameters": {"length": {"type": "number", "default": 8}},
    "resources": {
        "word": {"type": "OS::Heat::RandomString", "properties": {"length": {"get_param": "length"}}},
        "marker": {"type": "OS::Heat::None"},
    },
    "outputs": {"word": {"value": {"get_attr": ["word", "value"]}}},
}


@pytest.fixture(autouse=True)
def _server_stays_healthy() -> None:
    """Replaces the conftest's check of the shared Glimpse server: these tests talk to Heat only."""


@pytest.fixture(scope="module")
def cloud(heat: str) -> Iterator[Callable[[str], Any]]:
    """``cloud("alpha-member")``: an openstacksdk Connection signed in with that user's password."""
    connections: dict[str, Any] = {}

    def get(user: str) -> Any:
        if user not in connections:
            connections[user] = openstack.connection.Connection(
                auth_type="password",
                auth={"auth_url": KEYSTONE_URL, "username": user, "password": USER_PASSWORD,
                      "project_name": user.split("-")[0], "user_domain_name": "Default",
                      "project_domain_name": "Default"},
                region_name="RegionOne", interface="public",
            )  # fmt: skip
        return connections[user]

    yield get
    for connection in connections.values():
        connection.close()


def test_stack_lifecycle_through_the_catalog(cloud: Callable[[str], Any], heat: str) -> None:
    alpha, beta = cloud("alpha-member"), cloud("beta-member")
    assert alpha.orchestration.get_endpoint().startswith(heat)
    created = alpha.orchestration.create_stack(
        name="e2e-heat-lifecycle", template=TEMPLATE, parameters={"length": 21}, tags="glimpse-e2e,lifecycle"
    )
    try:
        done = alpha.orchestration.wait_for_status(
            created, status="CREATE_COMPLETE", failures=["CREATE_FAILED"], interval=0.5, wait=120
        )
        stack = alpha.orchestration.get_stack(done.id)
        assert stack.name == "e2e-heat-lifecycle"
        assert stack.status == "CREATE_COMPLETE"
        assert sorted(stack.tags) == ["glimpse-e2e", "lifecycle"]
        (word,) = [out["output_value"] for out in stack.outputs if out["output_key"] == "word"]
        assert len(word) == 21
        assert done.id in [s.id for s in alpha.orchestration.stacks(tags=["glimpse-e2e"])]
        # another project neither lists nor reads it
        assert done.id not in [s.id for s in beta.orchestration.stacks()]
        with pytest.raises(exceptions.NotFoundException):
            beta.orchestration.get_stack(done.id)
    finally:
        alpha.orchestration.delete_stack(created)
    alpha.orchestration.wait_for_delete(created, interval=0.5, wait=120)
    assert alpha.orchestration.find_stack(created.id, ignore_missing=True) is None
