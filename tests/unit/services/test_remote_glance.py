"""glance-download finds another region's image service in the real Keystone's catalog (scripts/keystone-up
registers the `image` service in RegionOne, InteropGlimpse and InteropGlance), as Glance does; an endpoint
the operator configures wins; an unknown region or interface is a remote error, which fails the task."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from glimpse.services.fetch import RemoteFetchError
from glimpse.services.remote_glance import RegionCatalog
from glimpse.settings import load_settings

KEYSTONE_URL = "http://127.0.0.1:5000/v3"  # scripts/keystone-up (its bootstrap admin)


def _admin_session() -> Any:
    auth = v3.Password(auth_url=KEYSTONE_URL, username="admin", password="admin", project_name="admin",
                       user_domain_id="default", project_domain_id="default")  # fmt: skip
    return ks_session.Session(auth=auth)


def _catalog(tmp_path: Path, **options: Any) -> RegionCatalog:
    settings = load_settings(env={}, data_dir=tmp_path, auth="noauth", **options)
    return RegionCatalog(settings, _admin_session)


def test_regions_come_from_the_keystone_catalog(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path)
    assert catalog.available
    remote = asyncio.run(catalog.remote("InteropGlance", "public"))
    assert remote.endpoint == "http://127.0.0.1:9496"
    assert remote.headers["X-Auth-Token"]  # the service user's, when no caller's token is held for the task
    assert asyncio.run(catalog.remote("RegionOne", "internal")).endpoint == "http://127.0.0.1:9292"
    catalog.hold_token("task-1", "the-callers-token")
    held = asyncio.run(catalog.remote("InteropGlimpse", "public", "task-1"))
    assert held.headers == {"X-Auth-Token": "the-callers-token"}


def test_a_configured_endpoint_wins(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path, glance_download_endpoints={"InteropGlance": "http://127.0.0.1:1/elsewhere"})
    assert asyncio.run(catalog.remote("InteropGlance", "public")).endpoint == "http://127.0.0.1:1/elsewhere"


@pytest.mark.parametrize(("region", "interface"), [("Nowhere", "public"), ("RegionOne", "not-an-interface")])
def test_an_unknown_region_or_interface_is_a_remote_error(tmp_path: Path, region: str, interface: str) -> None:
    with pytest.raises(RemoteFetchError, match=f"{interface} glance endpoint not found for region {region}"):
        asyncio.run(_catalog(tmp_path).remote(region, interface))
