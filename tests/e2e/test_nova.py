"""The real Nova of scripts/nova-up (fake virt driver, Placement) through Keystone, as a cloud's users reach it:
openstacksdk signs in with a password, finds the `compute` endpoint in the catalog and boots a server without a
network (microversion 2.37's `"networks": "none"`) from an image of a Glimpse serving the catalog's image endpoint,
stops, starts and deletes it. Another project neither lists nor reads it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack.connection
import pytest
from openstack import exceptions

from tests.heat import KEYSTONE_URL, USER_PASSWORD, token_of
from tests.nova import FLAVOR, image_endpoint, raw_image

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _server_stays_healthy() -> None:
    """Replaces the conftest's check of the shared Glimpse server: these tests run their own."""


def connect(user: str) -> Any:
    return openstack.connection.Connection(
        auth_type="password",
        auth={"auth_url": f"{KEYSTONE_URL}/v3", "username": user, "password": USER_PASSWORD,
              "project_name": user.split("-")[0], "user_domain_name": "Default", "project_domain_name": "Default"},
        region_name="RegionOne", interface="public",
    )  # fmt: skip


@pytest.fixture
def glimpse(nova: str, tmp_path: Path) -> Iterator[str]:
    with image_endpoint(tmp_path, "glimpse_e2e_nova") as url:
        yield url


def test_server_lifecycle_through_the_catalog(glimpse: str, nova: str) -> None:
    alpha, beta = connect("alpha-member"), connect("beta-member")
    try:
        assert alpha.compute.get_endpoint().startswith(nova)
        image_id = raw_image(glimpse, token_of("alpha-member"), f"e2e-nova-{uuid.uuid4().hex[:6]}")
        flavor = alpha.compute.find_flavor(FLAVOR, ignore_missing=False)
        name = f"e2e-nova-{uuid.uuid4().hex[:6]}"
        created = alpha.compute.create_server(name=name, image_id=image_id, flavor_id=flavor.id, networks="none",
                                              tags=["glimpse-e2e"], metadata={"purpose": "e2e"})  # fmt: skip
        try:
            server = alpha.compute.wait_for_server(created, status="ACTIVE", failures=["ERROR"], interval=0.5,
                                                   wait=120)  # fmt: skip
            assert (server.name, server.image.id, server.metadata) == (name, image_id, {"purpose": "e2e"})
            assert server.tags == ["glimpse-e2e"]
            assert server.id in [s.id for s in alpha.compute.servers(tags="glimpse-e2e")]
            alpha.compute.stop_server(server)
            alpha.compute.wait_for_server(server, status="SHUTOFF", interval=0.5, wait=60)
            alpha.compute.start_server(server)
            alpha.compute.wait_for_server(server, status="ACTIVE", interval=0.5, wait=60)
            # another project neither lists nor reads it
            assert server.id not in [s.id for s in beta.compute.servers()]
            with pytest.raises(exceptions.NotFoundException):
                beta.compute.get_server(server.id)
        finally:
            alpha.compute.delete_server(created)
        alpha.compute.wait_for_delete(created, interval=0.5, wait=60)
        assert alpha.compute.find_server(created.id, ignore_missing=True) is None
    finally:
        alpha.close()
        beta.close()
