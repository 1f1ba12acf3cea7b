"""Stacks launched from local Heat-template assets, through the cloud's orchestration service (Heat), as the
signed-in person: their own Keystone token, the ``orchestration`` endpoint of their own catalog
(``auth/catalog.py``), openstacksdk for the calls (docs/dashboard.md).

A launch reads the ``heat_templates`` artifact and its ``template`` blob the way a download does (so only an
asset the person may see and download is launched), its ``nested_templates`` (sent as Heat's ``files``), and
optionally a ``heat_environments`` artifact's ``environment`` blob, then creates the stack tagged ``glimpse``
plus the asset's name, version and id.
Running Apps lists the stacks of the person's project that carry the ``glimpse`` tag, with their live status from
Heat; delete, suspend and resume act only on such a stack. Heat scopes every call to the token's project, so
another project's stacks are neither listed nor found.

openstacksdk is blocking: each use case runs on a worker thread. Heat's refusals become Glimpse's errors
(400, 403, 404, 409 with Heat's own message); Heat or the identity service out of reach is a 503.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

import yaml

from glimpse.context import RequestContext
from glimpse.errors import (
    BadRequest,
    GlimpseError,
    OrchestrationUnavailable,
)
from glimpse.services.artifacts import ArtifactService, BlobService
from glimpse.services.cloud import MARKER_TAG, CloudFactory, CloudService, PersonCloud, launched, sdk_error
from glimpse.settings import Settings

if TYPE_CHECKING:  # openstacksdk (a second or so to import) loads with the first launch or listing
    from openstack.connection import Connection

TEMPLATE_TYPE, TEMPLATE_BLOB, NESTED_BLOBS = "heat_templates", "template", "nested_templates"
ENVIRONMENT_TYPE, ENVIRONMENT_BLOB = "heat_environments", "environment"
TAG_KEYS = ("asset", "version", "artifact")
MAX_TEMPLATE_BYTES = 512 * 1024  # Heat's own default max_template_size
MAX_TAG_LENGTH = 80  # Heat keeps a stack's tags in 80-character columns
ACTIONS = ("delete", "suspend", "resume")
_NAME_FIRST = re.compile(r"[^A-Za-z]*")
_NAME_REST = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True, slots=True)
class RunningStack:
    """A stack launched from an asset, as Heat reports it now."""

    id: str
    name: str
    status: str
    status_reason: str
    asset: str
    version: str
    artifact_id: str
    created_at: str
    updated_at: str

    @property
    def suspended(self) -> bool:
        return self.status.startswith("SUSPEND")

    @property
    def busy(self) -> bool:
        return self.status.endswith("IN_PROGRESS")


@dataclass(frozen=True, slots=True)
class LaunchRequest:
    """What the person asked for: the template asset, an optional environment asset, a stack name (empty: made
    from the asset's name) and the template's parameters."""

    artifact_id: str
    environment_id: str = ""
    name: str = ""
    parameters: Mapping[str, str] | None = None


class _TemplateLoader(yaml.SafeLoader):  # type: ignore[misc]
    """YAML as Heat reads it: ``heat_template_version: 2021-04-16`` stays the string Heat expects, not a date."""


_TemplateLoader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


def parse_document(text: bytes, what: str) -> dict[str, Any]:
    """A template or environment (YAML or JSON) as the mapping Heat's API takes."""
    try:
        value = yaml.load(text, Loader=_TemplateLoader)  # a SafeLoader
    except yaml.YAMLError as exc:
        raise BadRequest(f"The {what} is not valid YAML or JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(value, dict):
        raise BadRequest(f"The {what} is not a YAML or JSON mapping.")
    found: dict[str, Any] = _jsonable(value)
    return found


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def parse_parameters(text: str) -> dict[str, str]:
    """``name=value`` lines (blank lines skipped) -> the stack's parameters."""
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise BadRequest(f"Parameter line {number} is not name=value.")
        found[name.strip()] = value.strip()
    return found


def default_name(asset: str) -> str:
    """A stack name Heat accepts (a letter first, then letters, digits, ``_ . -``) from the asset's name."""
    stem = _NAME_REST.sub("-", _NAME_FIRST.sub("", asset, count=1)).strip("-")[:200] or "stack"
    return f"{stem}-{secrets.token_hex(3)}"


def asset_tags(name: str, version: str, artifact_id: str) -> list[str]:
    """The tags a launched stack carries: the marker and ``glimpse-<key>=<value>`` (commas, which separate Heat's
    tags, and percent signs escaped; a value too long for Heat's tag column is cut)."""
    tags = [MARKER_TAG]
    for key, value in zip(TAG_KEYS, (name, version, artifact_id), strict=True):
        prefix = f"glimpse-{key}="
        encoded = quote(value, safe=" /:@+()[]!*'~;$&=")
        tags.append(prefix + encoded[: MAX_TAG_LENGTH - len(prefix)])
    return tags


def read_tags(tags: list[str] | None) -> dict[str, str]:
    found = {key: "" for key in TAG_KEYS}
    for tag in tags or []:
        key, sep, value = tag.partition("=")
        if sep and key.startswith("glimpse-") and key[8:] in found:
            found[key[8:]] = unquote(value)
    return found


HEAT = CloudService("orchestration", "Heat", "Stacks", OrchestrationUnavailable)


def heat_error(exc: Exception) -> GlimpseError:
    """openstacksdk's (and keystoneauth1's) failures as Glimpse's errors, Heat's message kept."""
    return sdk_error(exc, HEAT)


class StackService:
    def __init__(self, settings: Settings, artifacts: ArtifactService, blobs: BlobService,
                 cloud: CloudFactory | None = None) -> None:  # fmt: skip
        self.settings = settings
        self.artifacts = artifacts
        self.blobs = blobs
        self.cloud = PersonCloud(settings, HEAT, settings.dashboard_orchestration_timeout, cloud)

    @property
    def configured(self) -> bool:
        """Whether people sign in with Keystone (then each one's catalog says whether Heat is there)."""
        return self.cloud.configured

    # -- use cases ---------------------------------------------------------------------------------------
    async def launch(self, ctx: RequestContext, request: LaunchRequest) -> RunningStack:
        """Create the stack from the template asset (and environment asset), tagged with the asset."""
        asset = await self.artifacts.show(ctx, TEMPLATE_TYPE, request.artifact_id)
        template = parse_document(await self._blob(ctx, TEMPLATE_TYPE, request.artifact_id, TEMPLATE_BLOB),
                                  f"template of {asset['name']}")  # fmt: skip
        environment: dict[str, Any] | None = None
        if request.environment_id:
            env_asset = await self.artifacts.show(ctx, ENVIRONMENT_TYPE, request.environment_id)
            text = await self._blob(ctx, ENVIRONMENT_TYPE, request.environment_id, ENVIRONMENT_BLOB)
            environment = parse_document(text, f"environment {env_asset['name']}")
        files = await self._nested(ctx, asset)
        name = request.name.strip() or default_name(str(asset["name"]))
        tags = asset_tags(str(asset["name"]), str(asset.get("version") or ""), str(asset["id"]))
        attrs: dict[str, Any] = {"name": name, "template": template, "parameters": dict(request.parameters or {}),
                                 "tags": ",".join(tags)}  # fmt: skip
        if environment is not None:
            attrs["environment"] = environment
        if files:
            attrs["files"] = files

        def create(cloud: Connection) -> Any:
            made = cloud.orchestration.create_stack(**attrs)
            return cloud.orchestration.get_stack(made.id, resolve_outputs=False)

        return self._view(await self.cloud.run(ctx, create))

    async def running(self, ctx: RequestContext) -> list[RunningStack]:
        """The project's stacks launched from assets, newest first, with Heat's live status."""

        def listed(cloud: Connection) -> list[Any]:
            return list(cloud.orchestration.stacks(tags=[MARKER_TAG]))  # Heat's order: newest first

        return [self._view(stack) for stack in await self.cloud.run(ctx, listed)]

    async def act(self, ctx: RequestContext, stack_id: str, action: str) -> None:
        """Delete, suspend or resume one of the project's stacks launched from an asset."""
        if action not in ACTIONS:
            raise BadRequest(f"Unknown stack action {action!r}: one of {', '.join(ACTIONS)}")

        def run(cloud: Connection) -> None:
            stack = launched(
                lambda: cloud.orchestration.get_stack(stack_id, resolve_outputs=False),
                f"No stack {stack_id} launched from an asset in this project.",
            )
            if action == "delete":
                cloud.orchestration.delete_stack(stack, ignore_missing=False)
            elif action == "suspend":
                cloud.orchestration.suspend_stack(stack)
            else:
                cloud.orchestration.resume_stack(stack)

        await self.cloud.run(ctx, run)

    # -- helpers -----------------------------------------------------------------------------------------
    async def _blob(self, ctx: RequestContext, type_name: str, artifact_id: str, field: str) -> bytes:
        """A small blob's bytes, read as a download is (the caller's visibility and download policy apply)."""
        download = await self.blobs.download(ctx, type_name, artifact_id, field)
        if download.body is None:
            raise BadRequest(f"The {field} of {type_name} {artifact_id} is stored outside Glimpse; upload it first.")
        return await _bounded(download.body, MAX_TEMPLATE_BYTES, f"The {field}")

    async def _nested(self, ctx: RequestContext, asset: Mapping[str, Any]) -> dict[str, str]:
        """The template's ``nested_templates`` as Heat's ``files``: a resource ``type: inner.yaml`` finds the
        nested template stored under the key ``inner.yaml``."""
        files: dict[str, str] = {}
        for key in sorted(asset.get(NESTED_BLOBS) or {}):
            data = await self._blob(ctx, TEMPLATE_TYPE, str(asset["id"]), f"{NESTED_BLOBS}/{key}")
            try:
                files[key] = data.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest(f"The nested template {key} is not UTF-8 text.") from None
        return files

    @staticmethod
    def _view(stack: Any) -> RunningStack:
        tags = read_tags(stack.tags)
        return RunningStack(
            id=str(stack.id), name=str(stack.name or ""), status=str(stack.status or ""),
            status_reason=str(stack.status_reason or ""), asset=tags["asset"], version=tags["version"],
            artifact_id=tags["artifact"], created_at=str(stack.created_at or ""),
            updated_at=str(stack.updated_at or ""),
        )  # fmt: skip


async def _bounded(body: AsyncIterator[bytes], limit: int, what: str) -> bytes:
    data = bytearray()
    try:
        async for chunk in body:
            data += chunk
            if len(data) > limit:
                raise BadRequest(f"{what} is larger than the {limit} bytes Heat accepts.")
    finally:
        close = getattr(body, "aclose", None)
        if close is not None:
            await close()
    return bytes(data)
