"""Glare's quotas on artifacts: ``/quotas`` and ``/project-quotas``, the count checked when an artifact is
created, the bytes claimed while a blob is uploaded.

Both use the images' quota machinery (``services/quotas.py``): a project's quota row lock serialises its
checks, and an upload holds a reservation (``max_uploaded_data`` and ``max_uploaded_data:<type>``) that
counts for every other upload until the blob is recorded, so concurrent creates or uploads cannot together
pass a limit. A create needs no reservation: its check and its insert are one transaction under the lock.
Projects' own values are rows of the quota limits table (named as Glare names them).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from glimpse.context import RequestContext
from glimpse.db import Database
from glimpse.db.repositories.artifacts import ArtifactRepository
from glimpse.db.repositories.quotas import QuotaRepository
from glimpse.domain.artifacts import quotas
from glimpse.domain.artifacts.quotas import COUNT, DATA, QUOTAS, quota_name
from glimpse.errors import Forbidden
from glimpse.policy import Policy
from glimpse.policy.engine import Target
from glimpse.services.artifacts.registry import ArtifactTypes
from glimpse.services.quotas import Claim, QuotaService
from glimpse.settings import Settings


class DataLedger:
    """``max_uploaded_data`` quotas as a family of the quota machinery: bytes of a project's blobs."""

    def counts_bytes(self, resource: str) -> bool:
        return True

    def parse(self, name: str) -> str | None:
        return name if name == DATA or name.startswith(f"{DATA}:") else None

    def committed(self, session: Any, project_id: str, resources: Iterable[str]) -> dict[str, int]:
        by_type = ArtifactRepository(session).uploaded_by_type(project_id)
        usage = {quota_name(DATA, type_name): size for type_name, size in by_type.items()}
        usage[DATA] = sum(by_type.values())
        return usage

    def check(
        self, project_id: str, limits: Mapping[str, int], usage: Mapping[str, int], requested: Mapping[str, int]
    ) -> None:
        quotas.check_data(project_id, limits, usage, requested)


class UploadQuota:
    """The bytes an upload holds: ``cover(size)`` before each block (the data pipeline's quota hook),
    ``release()`` once the blob is recorded or the upload failed."""

    def __init__(self, claim: Claim[str], type_name: str) -> None:
        self.claim = claim
        self.names = (DATA, quota_name(DATA, type_name))

    async def cover(self, size: int) -> None:
        await self.claim.cover_all(dict.fromkeys(self.names, size))

    async def release(self) -> None:
        await self.claim.release()


class ArtifactQuotas:
    def __init__(self, settings: Settings, db: Database, policy: Policy, types: ArtifactTypes) -> None:
        self.db = db
        self.policy = policy
        per_type = {
            kind.type_name: (options.max_artifact_number, options.max_uploaded_data)
            for kind in types
            if not kind.is_all and (options := settings.artifact_types.get(kind.type_name)) is not None
        }
        self.configured = quotas.configured(settings.max_artifact_number, settings.max_uploaded_data, per_type)
        self.data = QuotaService(db, self, DataLedger())

    def _enforce(self, ctx: RequestContext, rule: str, target: Mapping[str, Any] | None = None) -> None:
        if not self.policy.check(ctx, rule, Target(attributes=dict(target or {}))):
            raise Forbidden(f"Policy check for {rule} failed.")

    def _merged(self, session: Any, project_id: str) -> dict[str, int]:
        own = QuotaRepository(session).named_limits(project_id, QUOTAS).get(project_id, {})
        return {**self.configured, **own}

    # -- Limits (the quota machinery's source) --------------------------------------------------------
    async def limits(self, project_id: str) -> dict[str, int]:
        """The project's quotas: the configured ones, each replaced by the project's own where it has one."""
        return await self.db.run(lambda session: self._merged(session, project_id))

    # -- enforcement ----------------------------------------------------------------------------------
    def check_create(self, session: Any, project_id: str, type_name: str) -> None:
        """In the transaction that creates an artifact of ``type_name`` for ``project_id``: lock the project's
        quota row until it commits and refuse (403) when one more artifact would pass a quota."""
        limits = self._merged(session, project_id)
        if limits.get(COUNT, -1) == -1 and limits.get(quota_name(COUNT, type_name), -1) == -1:
            return
        QuotaRepository(session).lock(project_id)
        quotas.check_count(limits, ArtifactRepository(session).count_by_type(project_id), type_name)

    async def claim_upload(self, project_id: str, type_name: str, size: int | None = None) -> UploadQuota:
        """Reserve ``size`` bytes (what the client declared; 0 when unknown) of the artifact owner's
        ``max_uploaded_data`` quotas for one upload (413 when they do not fit); the returned quota covers
        the stream as it grows and must be released when the upload ends, whatever its end."""
        claim = await self.data.claim(
            project_id,
            dict.fromkeys((DATA, quota_name(DATA, type_name)), size or 0),
            holder=f"artifact-upload:{uuid.uuid4().hex}",
        )
        return UploadQuota(claim, type_name)

    # -- /quotas, /project-quotas ---------------------------------------------------------------------
    async def set_quotas(self, ctx: RequestContext, body: Any) -> None:
        """``PUT /quotas``: each listed project's quotas become exactly the ones given."""
        self._enforce(ctx, "artifact:set_quotas")
        values = quotas.parse_quotas(body)

        def work(session: Any) -> None:
            repo = QuotaRepository(session)
            for project_id, project_quotas in values.items():
                repo.replace_named_limits(project_id, QUOTAS, project_quotas)

        await self.db.run(work)

    async def list_all(self, ctx: RequestContext) -> dict[str, Any]:
        """``GET /quotas``: every project's own quotas and the configured ones."""
        self._enforce(ctx, "artifact:list_all_quotas")
        found = await self.db.run(lambda session: QuotaRepository(session).named_limits(None, QUOTAS))
        return {"quotas": found, "global_quotas": dict(self.configured)}

    async def list_project(self, ctx: RequestContext, project_id: str | None) -> dict[str, dict[str, int]]:
        """``GET /project-quotas[/{project_id}]``: the quotas that apply to a project (the caller's by default)."""
        project_id = project_id or ctx.project_id
        if project_id is None:
            raise Forbidden("Quotas are shown for a project: this request names none.")
        self._enforce(ctx, "artifact:list_project_quotas", {"project_id": project_id})
        return {project_id: await self.limits(project_id)}
