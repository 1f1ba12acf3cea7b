"""Servers launched from local images, through the cloud's compute service (Nova), as the signed-in person: their
own Keystone token, the ``compute`` endpoint of their own catalog (``services/cloud.py``), openstacksdk for the
calls (docs/dashboard.md).

A launch reads the image the way ``GET /v2/images/<id>`` does (so only an image the person may see is launched;
it must be active), then boots a server from it without a network (``"networks": "none"``, compute microversion
2.37 or later) with the flavor the person chose, tagged ``glimpse`` and carrying the asset in its metadata:
``glimpse_asset`` (the catalog asset the image was installed from, else the image's name), ``glimpse_version``
(the asset's version, when installed from a catalog) and ``glimpse_image`` (the image's id). Nova looks the image
up again itself, in the image endpoint of the same catalog.
Running Apps lists the servers of the person's project that carry the tag, with their live status from Nova; stop,
start and delete act only on such a server. Nova scopes every call to the token's project, so another project's
servers are neither listed nor found.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from glimpse.context import RequestContext
from glimpse.domain.images import Image, Status
from glimpse.errors import BadRequest, ComputeUnavailable, Conflict
from glimpse.services.cloud import MARKER_TAG, CloudFactory, CloudService, PersonCloud, launched, sdk_error
from glimpse.services.images import ImageService
from glimpse.settings import Settings

if TYPE_CHECKING:
    from openstack.connection import Connection

NOVA = CloudService("compute", "Nova", "Servers", ComputeUnavailable)
METADATA_KEYS = {"asset": "glimpse_asset", "version": "glimpse_version", "image": "glimpse_image"}
MAX_METADATA_VALUE = 255  # Nova's limit on a metadata value
MAX_NAME = 255  # Nova's limit on a server name
ACTIONS = ("stop", "start", "delete")
BUSY = ("BUILD", "REBOOT", "HARD_REBOOT", "MIGRATING", "RESIZE", "REBUILD")
_NAME_REST = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True, slots=True)
class Flavor:
    id: str
    name: str
    vcpus: int
    ram: int  # MiB
    disk: int  # GiB

    @property
    def label(self) -> str:
        return f"{self.name} ({self.vcpus} vCPU, {self.ram} MiB RAM, {self.disk} GiB disk)"


@dataclass(frozen=True, slots=True)
class RunningServer:
    """A server launched from an image, as Nova reports it now."""

    id: str
    name: str
    status: str
    task_state: str
    fault: str
    asset: str
    version: str
    image_id: str
    flavor: str
    created_at: str

    @property
    def busy(self) -> bool:
        """Nova is working on it: its status will change without anyone asking."""
        return bool(self.task_state) or self.status in BUSY

    @property
    def stopped(self) -> bool:
        return self.status == "SHUTOFF"


@dataclass(frozen=True, slots=True)
class ServerRequest:
    """What the person asked for: the image, the flavor (its id) and a server name (empty: made from the asset)."""

    image_id: str
    flavor_id: str
    name: str = ""


def image_asset(image: Image) -> tuple[str, str]:
    """The asset an image stands for and its version: the catalog asset it was installed from (docs/catalog.md),
    else its own name (or id) with no version."""
    installed = image.properties.get("catalog_asset")
    if installed:
        return installed, image.properties.get("catalog_version", "")
    return image.name or image.id, ""


def asset_metadata(asset: str, version: str, image_id: str) -> dict[str, str]:
    """The metadata a launched server carries (each value cut at Nova's 255 characters)."""
    values = {"asset": asset, "version": version, "image": image_id}
    return {METADATA_KEYS[key]: value[:MAX_METADATA_VALUE] for key, value in values.items() if value}


def default_name(asset: str) -> str:
    """A server name from the asset's name (letters, digits, ``_ . -``) with a random suffix."""
    stem = _NAME_REST.sub("-", asset).strip("-.")[:200] or "server"
    return f"{stem}-{secrets.token_hex(3)}"


def check_name(name: str) -> str:
    """A name Nova accepts: printable, no leading or trailing space, at most 255 characters."""
    if len(name) > MAX_NAME:
        raise BadRequest(f"A server name has at most {MAX_NAME} characters.")
    if not name.isprintable():
        raise BadRequest("A server name has no control characters.")
    return name


class ServerService:
    def __init__(self, settings: Settings, images: ImageService, cloud: CloudFactory | None = None) -> None:
        self.settings = settings
        self.images = images
        self.cloud = PersonCloud(settings, NOVA, settings.dashboard_compute_timeout, cloud)

    @property
    def configured(self) -> bool:
        """Whether people sign in with Keystone (then each one's catalog says whether Nova is there)."""
        return self.cloud.configured

    # -- use cases ---------------------------------------------------------------------------------------
    async def flavors(self, ctx: RequestContext) -> list[Flavor]:
        """The flavors the person may boot, smallest first."""

        def listed(cloud: Connection) -> list[Flavor]:
            found = [Flavor(str(f.id), str(f.name), int(f.vcpus or 0), int(f.ram or 0), int(f.disk or 0))
                     for f in cloud.compute.flavors(details=True)]  # fmt: skip
            return sorted(found, key=lambda f: (f.ram, f.disk, f.vcpus, f.name))

        flavors: list[Flavor] = await self.cloud.run(ctx, listed)
        return flavors

    async def launch(self, ctx: RequestContext, request: ServerRequest) -> RunningServer:
        """Boot a server from the image (no network) with the chosen flavor, tagged with the asset."""
        image = await self.images.get(ctx, request.image_id)
        if image.status is not Status.ACTIVE:
            raise Conflict(f"Image {image.id} is {image.status.value}: only an active image can be launched.")
        if not request.flavor_id:
            raise BadRequest("Choose a flavor.")
        asset, version = image_asset(image)
        name = check_name(request.name.strip()) or default_name(asset)
        attrs: dict[str, Any] = {
            "name": name, "image_id": image.id, "flavor_id": request.flavor_id, "networks": "none",
            "tags": [MARKER_TAG], "metadata": asset_metadata(asset, version, image.id),
        }  # fmt: skip

        def create(cloud: Connection) -> Any:
            made = cloud.compute.create_server(**attrs)
            return cloud.compute.get_server(made.id)

        return self._view(await self.cloud.run(ctx, create))

    async def running(self, ctx: RequestContext) -> list[RunningServer]:
        """The project's servers launched from images, newest first, with Nova's live status."""

        def listed(cloud: Connection) -> list[Any]:
            return list(cloud.compute.servers(details=True, tags=MARKER_TAG))  # Nova's order: newest first

        return [self._view(server) for server in await self.cloud.run(ctx, listed)]

    async def act(self, ctx: RequestContext, server_id: str, action: str) -> None:
        """Stop, start or delete one of the project's servers launched from an image."""
        if action not in ACTIONS:
            raise BadRequest(f"Unknown server action {action!r}: one of {', '.join(ACTIONS)}")

        def run(cloud: Connection) -> None:
            server = launched(
                lambda: cloud.compute.get_server(server_id),
                f"No server {server_id} launched from an image in this project.",
            )
            if action == "delete":
                cloud.compute.delete_server(server, ignore_missing=False)
            elif action == "stop":
                cloud.compute.stop_server(server)
            else:
                cloud.compute.start_server(server)

        await self.cloud.run(ctx, run)

    @staticmethod
    def _view(server: Any) -> RunningServer:
        metadata = server.metadata or {}
        fault = server.fault or {}
        flavor = server.flavor
        return RunningServer(
            id=str(server.id), name=str(server.name or ""), status=str(server.status or ""),
            task_state=str(server.task_state or ""), fault=str(fault.get("message") or ""),
            asset=str(metadata.get(METADATA_KEYS["asset"], "")),
            version=str(metadata.get(METADATA_KEYS["version"], "")),
            image_id=str(metadata.get(METADATA_KEYS["image"], "")),
            flavor=str((flavor.original_name or flavor.name or flavor.id or "") if flavor else ""),
            created_at=str(server.created_at or ""),
        )  # fmt: skip


def nova_error(exc: Exception) -> Exception:
    """openstacksdk's (and keystoneauth1's) failures as Glimpse's errors, Nova's message kept."""
    return sdk_error(exc, NOVA)
