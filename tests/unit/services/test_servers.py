"""The pieces of a server launch that need no Nova: which asset and version an image stands for, the metadata that
ties a server to it (within Nova's limits), server names, what counts as busy, and Nova's answers as Glimpse's
errors."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc

from glimpse.domain.images import Image
from glimpse.errors import BadRequest, ComputeUnavailable, Conflict, GlimpseError, NotFound, Unauthorized
from glimpse.services.servers import (
    ServerService,
    asset_metadata,
    check_name,
    default_name,
    image_asset,
    nova_error,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def image(name: str | None = "cirros", **properties: str) -> Image:
    return Image(id="9f0e", owner="alpha", created_at=NOW, updated_at=NOW, name=name, properties=properties)


def test_an_installed_image_stands_for_its_catalog_asset_and_version() -> None:
    assert image_asset(image("disk", catalog_asset="tiny-os", catalog_version="1.4.2")) == ("tiny-os", "1.4.2")
    assert image_asset(image("cirros 0.6")) == ("cirros 0.6", "")
    assert image_asset(image(None)) == ("9f0e", "")
    # a version without the asset it belongs to is not taken
    assert image_asset(image("disk", catalog_version="9")) == ("disk", "")


def test_metadata_carries_the_asset_within_novas_limits() -> None:
    assert asset_metadata("tiny-os", "1.4.2", "9f0e") == {
        "glimpse_asset": "tiny-os", "glimpse_version": "1.4.2", "glimpse_image": "9f0e",
    }  # fmt: skip
    assert asset_metadata("cirros", "", "9f0e") == {"glimpse_asset": "cirros", "glimpse_image": "9f0e"}
    assert all(len(value) <= 255 for value in asset_metadata("x" * 400, "1", "id").values())


@pytest.mark.parametrize("asset", ["tiny-os", "cirros 0.6 (x86_64)", "élan", "---", "a" * 400])
def test_default_names_come_from_the_asset(asset: str) -> None:
    name = default_name(asset)
    assert len(name) <= 255
    assert name.isprintable()
    assert " " not in name
    assert default_name(asset) != name  # a new suffix every launch


def test_names_nova_refuses_are_refused_first() -> None:
    assert check_name("web 1") == "web 1"
    for bad in ("x" * 256, "tab\there"):
        with pytest.raises(BadRequest):
            check_name(bad)


def view(**fields: object) -> object:
    server = {"id": "s1", "name": "vm", "status": "ACTIVE", "task_state": None, "fault": None, "created_at": "t",
              "metadata": {"glimpse_asset": "tiny-os", "glimpse_version": "1.4.2", "glimpse_image": "9f0e"},
              "flavor": SimpleNamespace(original_name="glimpse.tiny", name=None, id=None)}  # fmt: skip
    server.update(fields)
    return ServerService._view(SimpleNamespace(**server))


def test_a_server_is_busy_while_nova_works_on_it() -> None:
    active = view()
    assert (active.asset, active.version, active.image_id, active.flavor) == ("tiny-os", "1.4.2", "9f0e",
                                                                                "glimpse.tiny")  # fmt: skip
    assert not active.busy
    assert not active.stopped
    assert view(status="BUILD").busy
    assert view(task_state="powering-off").busy
    assert view(status="SHUTOFF").stopped
    failed = view(status="ERROR", fault={"message": "No valid host was found."})
    assert failed.fault == "No valid host was found."
    assert not failed.busy


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, BadRequest), (404, NotFound), (409, Conflict), (401, Unauthorized), (500, ComputeUnavailable)],
)
def test_novas_answers_become_glimpses_errors(status: int, kind: type[GlimpseError]) -> None:
    error = nova_error(sdk_exc.HttpException("Error", http_status=status, details="Flavor is too small"))
    assert isinstance(error, kind)
    if status in (400, 404, 409):
        assert error.message == "Nova: Flavor is too small"


def test_nova_out_of_reach_is_unavailable() -> None:
    assert isinstance(nova_error(ks_exc.ConnectFailure("refused")), ComputeUnavailable)
    missing = nova_error(sdk_exc.EndpointNotFound("none"))
    assert isinstance(missing, ComputeUnavailable)
    assert "No compute (Nova) endpoint" in missing.message
