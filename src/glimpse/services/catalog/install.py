"""Installing a catalog asset (and what it depends on) into the caller's project: a ``catalog_install`` task.

The request (:meth:`InstallService.start`) checks the policy and resolves the dependencies from the verified
index (a missing one or a cycle is refused at once), then enqueues the task. The run:

1. refreshes the catalog through TUF (a catalog that does not verify now installs nothing) and resolves the
   dependencies again, fail-closed, from what it just verified;
2. skips each asset already installed in the project, decided by its sha256 digest (never by name) and only
   while the local object it made still exists;
3. downloads every other asset through TUF (``Updater.download_target``: the signed length and sha256 are
   checked) over the SSRF-guarded fetcher, all of them before anything is created;
4. creates, dependencies first, the local image (its bytes streamed through THE data pipeline, which hashes
   them again and refuses them unless the sha256 matches the signed one) or artifact (its blob through the
   blob pipeline, sha256 compared), with provenance: catalog, asset, version, digest and the key ids that
   signed the index; heat templates link the environments, and murano packages the packages, they depend on;
5. on any failure removes everything this run created: nothing half installed. The installs are recorded
   (``catalog_installs``) in the transaction that ends the task.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glimpse.context import RequestContext
from glimpse.db.repositories.catalog import CatalogRepository, Installed
from glimpse.db.repositories.tasks import TaskRepository
from glimpse.domain.catalog import ARTIFACT_TYPES, Asset, AssetRef, install_order
from glimpse.domain.clock import utcnow
from glimpse.domain.tasks import Task, TaskStatus, TaskType
from glimpse.errors import BadRequest, NotFound
from glimpse.services.artifacts import ArtifactService, BlobService
from glimpse.services.catalog.subscribe import CatalogService, CatalogUnverified, explain
from glimpse.services.image_data import ImageDataService
from glimpse.services.images import ImageService
from glimpse.services.task_queue import TASK_TTL, Outcome, Progress, Step

log = logging.getLogger(__name__)
CHUNK = 4 * 1024 * 1024


@dataclass(slots=True)
class DigestCheck:
    """A pipeline check: the stream's sha256 must be the one the catalog signed."""

    expected: str
    name: str
    algorithm: str = "sha256"

    async def check(self, digest: bytes) -> None:
        if digest.hex() != self.expected:
            raise CatalogUnverified(f"{self.name}: the data's sha256 {digest.hex()} is not the signed {self.expected}")

    def recorded(self) -> dict[str, str]:
        return {}


async def read_chunks(path: Path) -> AsyncIterator[bytes]:
    """A local file's bytes, read on a worker thread."""
    with path.open("rb") as file:
        while chunk := await asyncio.to_thread(file.read, CHUNK):
            yield chunk


async def remove_made(ctx: RequestContext, images: ImageService, artifacts: ArtifactService,
                      made: list[tuple[str, str]], what: str) -> None:  # fmt: skip
    """Fail-closed: delete every (local type, id) a failed run made, newest first."""
    for local_type, local_id in reversed(made):
        try:
            if local_type == "image":
                await images.delete(ctx, local_id)
            else:
                await artifacts.delete(ctx, local_type, local_id)
        except Exception:
            log.exception("%s: could not remove %s %s after a failure", what, local_type, local_id)
    made.clear()


@dataclass(slots=True)
class _Run:
    """What one run made so far (removed again if the run fails)."""

    ctx: RequestContext
    remote: str
    signers: tuple[str, ...]
    made: list[tuple[str, str]] = field(default_factory=list)  # (local type, id)
    local: dict[AssetRef, tuple[str, str | None]] = field(default_factory=dict)  # asset -> (local type, id)


class InstallService:
    """``catalog_install`` tasks: start one, show one, run one."""

    def __init__(self, catalog: CatalogService, images: ImageService, image_data: ImageDataService,
                 artifacts: ArtifactService, blobs: BlobService) -> None:  # fmt: skip
        self.catalog = catalog
        self.db = catalog.db
        self.queue = catalog.queue
        self.images = images
        self.image_data = image_data
        self.artifacts = artifacts
        self.blobs = blobs

    # -- the request ---------------------------------------------------------------------------------------
    async def start(self, ctx: RequestContext, ref: AssetRef, catalog: str | None = None) -> Task:
        self.catalog.policy.enforce(ctx, "catalog:install")
        if not ctx.project_id:
            raise BadRequest("Installing an asset needs a project-scoped token")
        remote, _ = await self.catalog.find(ref, catalog)
        await self._order(remote, ref)  # a missing dependency or a cycle: refused before any task exists
        now = utcnow()
        task = Task(
            id=str(uuid.uuid4()), type=TaskType.CATALOG_INSTALL, status=TaskStatus.PENDING, owner=ctx.project_id,
            created_at=now, updated_at=now, expires_at=now + TASK_TTL, user_id=ctx.user_id, request_id=ctx.request_id,
            input={"catalog": remote, "name": ref.name, "version": ref.version, "roles": sorted(ctx.roles)},
        )  # fmt: skip
        await self.db.run(lambda s: self.queue.enqueue(s, task))
        return task

    async def show(self, ctx: RequestContext, task_id: str) -> Task:
        """An install task of the caller's project (any, for an admin)."""
        self.catalog.policy.enforce(ctx, "catalog:list_assets")
        missing = NotFound(f"No install task {task_id}")
        try:
            task: Task = await self.db.run(lambda s: TaskRepository(s).get(task_id, None))
        except NotFound:
            raise missing from None
        if task.type != TaskType.CATALOG_INSTALL or (task.owner != ctx.project_id and not ctx.is_admin):
            raise missing
        return task

    async def _order(self, remote: str, ref: AssetRef) -> list[Asset]:
        def work(session: Any) -> list[Asset]:
            repo = CatalogRepository(session)
            return install_order(ref, lambda r: repo.asset(remote, r))

        result: list[Asset] = await self.db.run(work)
        return result

    # -- the runner ----------------------------------------------------------------------------------------
    async def run(self, task: Task, progress: Progress) -> Outcome:
        remote, ref = str(task.input["catalog"]), AssetRef(str(task.input["name"]), str(task.input["version"]))
        ctx = RequestContext(user_id=task.user_id, project_id=task.owner, roles=frozenset(task.input.get("roles", [])),
                             request_id=task.request_id or "")  # fmt: skip
        report = await self.catalog.refresh_one(remote)
        if not report.ok:
            raise CatalogUnverified(f"Nothing installed: {report.message}")
        order = await self._order(remote, ref)
        state = await self.db.run(lambda s: CatalogRepository(s).remote(remote))
        run = _Run(ctx, remote, state.signers if state else ())
        pending = [a for a in order if not await self._already(run, a)]
        total = 2 * sum(a.length for a in pending)
        progress(0, total)
        workdir = self.catalog.state_dir / remote / "downloads" / task.id
        try:
            files = await self._download(remote, pending, workdir, progress, total)
            done = total // 2
            for asset in pending:
                await self._create(run, asset, files[asset.ref])
                done += asset.length
                progress(done, total)
        except BaseException:
            await self._remove(run)
            raise
        finally:
            await asyncio.to_thread(shutil.rmtree, workdir, True)
        installed = [
            Installed(ctx.project_id or "", a.sha256, remote, a.name, a.version, a.type, run.local[a.ref][0],
                      run.local[a.ref][1], run.signers, task.id)
            for a in order
        ]  # fmt: skip

        def finish(session: Any) -> None:
            repo = CatalogRepository(session)
            for item in installed:
                repo.record_install(item, utcnow())

        async def abort() -> None:
            await self._remove(run)

        fresh = {a.ref for a in pending}
        result = {"catalog": remote, "signers": list(run.signers), "installed": [
            {"name": i.name, "version": i.version, "type": i.type, "sha256": i.sha256, "local_type": i.local_type,
             "id": i.local_id, "already_installed": AssetRef(i.name, i.version) not in fresh}
            for i in installed]}  # fmt: skip
        return Outcome(result=result, finish=finish, abort=abort)

    async def undo(self, task: Task, reason: str) -> Step | None:
        return None

    def on_progress(self, task: Task, done: int, total: int | None, session: Any) -> None:
        pass

    # -- steps ---------------------------------------------------------------------------------------------
    async def _already(self, run: _Run, asset: Asset) -> bool:
        """Installed in this project already: by digest, and only while what it made still exists."""
        found = await self.db.run(lambda s: CatalogRepository(s).installed(run.ctx.project_id or "", asset.sha256))
        if found is None:
            return False
        try:
            if found.local_type == "image" and found.local_id:
                await self.images.get(run.ctx, found.local_id)
            elif found.local_id:
                await self.artifacts.show(run.ctx, found.local_type, found.local_id)
        except NotFound:
            return False
        run.local[asset.ref] = (found.local_type, found.local_id)
        return True

    async def _download(self, remote: str, assets: list[Asset], workdir: Path, progress: Progress,
                        total: int) -> dict[AssetRef, Path]:  # fmt: skip
        """Every asset's file, verified by TUF against the signed length and sha256, before anything is made."""
        loop = asyncio.get_running_loop()

        # progress follows the bytes of the file being downloaded (not the metadata), capped at its signed length
        done, received, limit = 0, 0, 0

        def on_bytes(size: int) -> None:
            nonlocal received
            if limit:
                received = min(received + size, limit)
                progress(done + received, total)

        def fetch_all() -> dict[AssetRef, Path]:
            nonlocal done, received, limit
            workdir.mkdir(parents=True, exist_ok=True)
            updater = self.catalog.updater(remote, loop, on_bytes)
            updater.refresh()
            files: dict[AssetRef, Path] = {}
            for asset in assets:
                info = updater.get_targetinfo(asset.path)
                if info is None or info.hashes.get("sha256") != asset.sha256:
                    raise CatalogUnverified(f"catalog {remote!r}: asset {asset.ref} is no longer signed as listed")
                target = workdir / f"{asset.sha256}.data"
                received, limit = 0, asset.length
                files[asset.ref] = Path(updater.download_target(info, str(target)))
                done, limit = done + asset.length, 0
                progress(done, total)
            return files

        try:
            return await asyncio.to_thread(fetch_all)
        except CatalogUnverified:
            raise
        except Exception as exc:
            raise CatalogUnverified(f"Nothing installed: {explain(exc, remote)}") from exc

    def _provenance(self, run: _Run, asset: Asset) -> dict[str, str]:
        return {
            "catalog": run.remote,
            "catalog_asset": asset.name,
            "catalog_version": asset.version,
            "catalog_digest": f"sha256:{asset.sha256}",
            "catalog_signer": ",".join(run.signers),
        }

    async def _create(self, run: _Run, asset: Asset, file: Path) -> None:
        if asset.type == "image":
            await self._create_image(run, asset, file)
            return
        type_name, blob_field = ARTIFACT_TYPES[asset.type]
        if blob_field is None:  # a bundle is what it depends on
            run.local[asset.ref] = ("bundle", None)
            return
        body: dict[str, Any] = {"name": asset.name, "version": asset.version,
                                "metadata": self._provenance(run, asset)}  # fmt: skip
        if "description" in asset.metadata:
            body["description"] = asset.metadata["description"]
        links = {d: run.local[d] for d in asset.depends if run.local.get(d, ("", None))[1]}
        if type_name == "heat_templates":
            body["environments"] = {str(d): f"/artifacts/{t}/{i}" for d, (t, i) in links.items()
                                    if t == "heat_environments"}  # fmt: skip
        elif type_name == "murano_packages":
            body["dependencies"] = [f"/artifacts/{t}/{i}" for t, i in links.values() if t == "murano_packages"]
        created = await self.artifacts.create(run.ctx, type_name, body)
        run.made.append((type_name, created["id"]))
        run.local[asset.ref] = (type_name, created["id"])
        blob = await self.blobs.upload(
            run.ctx,
            type_name,
            created["id"],
            blob_field,
            read_chunks(file),
            content_type="application/octet-stream",
            content_length=asset.length,
        )
        stored = blob.get(blob_field) or {}
        if stored.get("sha256") != asset.sha256:
            raise CatalogUnverified(f"{asset.ref}: the stored blob's sha256 is not the signed {asset.sha256}")

    async def _create_image(self, run: _Run, asset: Asset, file: Path) -> None:
        body = {
            "name": asset.name,
            "disk_format": asset.metadata.get("disk_format", "raw"),
            "container_format": asset.metadata.get("container_format", "bare"),
            **self._provenance(run, asset),
        }
        image = await self.images.create(run.ctx, body)
        run.made.append(("image", image.id))
        run.local[asset.ref] = ("image", image.id)
        await self.image_data.upload(run.ctx, image.id, read_chunks(file), declared_size=asset.length, store_id=None,
                                     checks=(DigestCheck(asset.sha256, str(asset.ref)),))  # fmt: skip

    async def _remove(self, run: _Run) -> None:
        await remove_made(run.ctx, self.images, self.artifacts, run.made, "catalog install")
