"""Subscribing to remote catalogs: refresh their signed metadata with TUF's client, browse and search them.

Each ``[catalog] remotes`` entry (``name = https://...``) has a trusted ``root.json`` (``[catalog]
trusted_roots``), handed over out of band. A refresh runs python-tuf's ``Updater`` (in a worker thread)
over the SSRF-guarded fetcher: it walks the chain of roots, then checks the timestamp, snapshot and targets
metadata for signatures by the keys root names (thresholds), expiry, versions that never go down (rollback)
and snapshot consistency (mix-and-match); TUF keeps the metadata it verified under
``<data_dir>/catalog/<name>/metadata`` and later refreshes compare against it. Only after all of that does
the index in the database (``catalog_assets``) change, in one transaction; a failing refresh leaves the last
good index and records its error on the remote (``catalog_remotes.last_error``).

Refreshes run on a schedule: every ``[catalog] refresh_interval`` seconds a worker enqueues one
``catalog_refresh`` task (unless one waits), whose runner is this service.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glimpse.context import RequestContext
from glimpse.db import Database
from glimpse.db.repositories.catalog import CatalogRepository, RemoteState, Verified
from glimpse.db.repositories.tasks import TaskRepository
from glimpse.domain.catalog import Asset, AssetRef, CatalogError, check_type
from glimpse.domain.clock import utcnow
from glimpse.domain.tasks import Task, TaskStatus, TaskType
from glimpse.errors import Duplicate, GlimpseError, NotFound
from glimpse.policy import Policy
from glimpse.services.catalog.browse import IndexCache
from glimpse.services.task_queue import TASK_TTL, Outcome, Progress, Step, TaskQueue
from glimpse.settings import Settings

if TYPE_CHECKING:  # python-tuf (with securesystemslib and cryptography, about 20 MiB) loads on a catalog's first use
    from tuf.ngclient import Updater

    from glimpse.services import fetch

log = logging.getLogger(__name__)


class CatalogUnverified(GlimpseError):
    """A remote catalog's metadata or data failed verification, or could not be fetched: nothing changed."""

    status = 502


def explain(exc: BaseException, remote: str) -> str:
    """A clear message for why a catalog was refused (TUF's verdicts and the fetcher's refusals)."""
    from tuf.api import exceptions as tuf_errors

    seen: BaseException | None = exc
    while seen is not None:  # the fetcher's own refusal (http://, a private address, TLS) says it best
        if isinstance(seen, GlimpseError) and not isinstance(seen, CatalogUnverified):
            return f"catalog {remote!r}: {seen.message}"
        seen = seen.__cause__
    kinds = [
        (tuf_errors.ExpiredMetadataError, "the signed metadata has expired"),
        (tuf_errors.BadVersionNumberError, "rollback refused: the metadata is older than the version already trusted"),
        (tuf_errors.UnsignedMetadataError, "the metadata is not signed by enough trusted keys"),
        (tuf_errors.LengthOrHashMismatchError, "the data does not match its signed length and sha256 digest"),
        (tuf_errors.DownloadLengthMismatchError, "the data does not match its signed length"),
        (tuf_errors.RepositoryError, "the metadata failed verification"),
        (tuf_errors.DownloadError, "the catalog could not be fetched"),
    ]
    for kind, what in kinds:
        if isinstance(exc, kind):
            return f"catalog {remote!r}: {what} ({exc})"
    return f"catalog {remote!r}: {type(exc).__name__}: {exc}"


@dataclass(frozen=True, slots=True)
class RefreshReport:
    remote: str
    ok: bool
    assets: int
    message: str


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class CatalogService:
    """Refresh (the ``catalog_refresh`` runner), browse and search the subscribed catalogs."""

    def __init__(self, settings: Settings, db: Database, policy: Policy, queue: TaskQueue) -> None:
        self.settings = settings
        self.db = db
        self.policy = policy
        self.queue = queue
        self.state_dir = settings.data_dir / "catalog"
        self._refreshing: dict[str, asyncio.Lock] = {}  # one refresh of a remote at a time in this process
        self.index = IndexCache()  # each remote's verified index, parsed once per refresh (browse.py)

    # -- the TUF client ------------------------------------------------------------------------------------
    @cached_property
    def fetch_policy(self) -> fetch.FetchPolicy:
        from glimpse.services.catalog.transport import catalog_fetch_policy

        return catalog_fetch_policy(self.settings)

    def remote_names(self) -> list[str]:
        return sorted(self.settings.catalog_remotes)

    def _remote(self, name: str) -> tuple[str, Path]:
        if name not in self.settings.catalog_remotes:
            raise NotFound(f"No catalog named {name!r} is configured")
        return self.settings.catalog_remotes[name].rstrip("/"), Path(self.settings.catalog_trusted_roots[name])

    def updater(self, name: str, loop: asyncio.AbstractEventLoop,
                on_bytes: Callable[[int], None] | None = None) -> Updater:  # fmt: skip
        """TUF's client for remote ``name`` (its trusted root, then what it verified before); sync.
        ``on_bytes`` hears of every chunk fetched (see :class:`GuardedFetcher`)."""
        from tuf.ngclient import Updater

        from glimpse.services.catalog.transport import GuardedFetcher

        url, trusted_root = self._remote(name)
        if not url.lower().startswith("https://"):
            raise CatalogError(f"catalog {name!r}: only https:// catalogs are accepted")
        metadata_dir = self.state_dir / name / "metadata"
        metadata_dir.mkdir(parents=True, exist_ok=True)
        bootstrap = None
        if not (metadata_dir / "root.json").is_file():
            try:
                bootstrap = trusted_root.read_bytes()
            except OSError as exc:
                raise CatalogError(f"catalog {name!r}: cannot read the trusted root {trusted_root}: {exc}") from exc
        return Updater(
            str(metadata_dir), f"{url}/metadata/", str(self.state_dir / name / "targets"), f"{url}/targets/",
            GuardedFetcher(loop, self.fetch_policy, on_bytes), bootstrap=bootstrap,
        )  # fmt: skip

    def _verify(self, name: str, loop: asyncio.AbstractEventLoop) -> Verified:
        """Refresh ``name``'s metadata through TUF and read the index it verified (in a worker thread)."""
        from tuf.api.metadata import Metadata, Root, Targets

        updater = self.updater(name, loop)
        updater.refresh()
        metadata_dir = self.state_dir / name / "metadata"
        root: Metadata[Root] = Metadata.from_file(str(metadata_dir / "root.json"))
        targets: Metadata[Targets] = Metadata.from_file(str(metadata_dir / "targets.json"))
        timestamp = Metadata.from_file(str(metadata_dir / "timestamp.json"))
        trusted = set(root.signed.roles["targets"].keyids)
        found = (Asset.from_target(t.path, t.length, t.hashes, t.custom) for t in targets.signed.targets.values())
        return Verified(
            root_version=root.signed.version,
            targets_version=targets.signed.version,
            timestamp_version=timestamp.signed.version,
            expires_at=min(targets.signed.expires, timestamp.signed.expires).replace(tzinfo=None),
            signers=tuple(sorted(k for k in targets.signatures if k in trusted)),
            assets=[a for a in found if a is not None],
        )

    async def refresh_one(self, name: str) -> RefreshReport:
        async with self._refreshing.setdefault(name, asyncio.Lock()):
            return await self._refresh_one(name)

    async def _refresh_one(self, name: str) -> RefreshReport:
        url, _ = self._remote(name)
        loop = asyncio.get_running_loop()
        try:
            verified = await asyncio.to_thread(self._verify, name, loop)
        except Exception as exc:  # every refusal is recorded; the last good index stays
            message = explain(exc, name)
            log.warning("catalog refresh refused: %s", message)
            await self.db.run(lambda s: CatalogRepository(s).record_failure(name, url, message, _now()))
            return RefreshReport(name, False, 0, message)
        try:
            await self.db.run(lambda s: CatalogRepository(s).record_refresh(name, url, verified, _now()))
        except Duplicate:  # another process recorded a refresh of this remote at the same moment: try once more
            await self.db.run(lambda s: CatalogRepository(s).record_refresh(name, url, verified, _now()))
        return RefreshReport(name, True, len(verified.assets), "")

    async def refresh(self, names: list[str] | None = None) -> list[RefreshReport]:
        chosen = self.remote_names() if names is None else names
        await self.db.run(lambda s: CatalogRepository(s).forget(self.remote_names()))
        return [await self.refresh_one(name) for name in chosen]

    # -- the schedule (task queue) -------------------------------------------------------------------------
    async def schedule_refresh(self) -> None:
        """Enqueue a ``catalog_refresh`` task unless one waits (a worker sweep)."""
        if not self.settings.catalog_remotes:
            return

        def work(session: Any) -> None:
            if TaskRepository(session).has_pending(TaskType.CATALOG_REFRESH):
                return
            now = utcnow()
            self.queue.enqueue(session, Task(id=str(uuid.uuid4()), type=TaskType.CATALOG_REFRESH,
                                             status=TaskStatus.PENDING, owner=None, created_at=now, updated_at=now,
                                             expires_at=now + TASK_TTL))  # fmt: skip

        await self.db.run(work)

    async def run(self, task: Task, progress: Progress) -> Outcome:
        reports = await self.refresh()
        return Outcome(result={r.remote: (r.message or f"{r.assets} assets") for r in reports})

    async def undo(self, task: Task, reason: str) -> Step | None:
        return None

    def on_progress(self, task: Task, done: int, total: int | None, session: Any) -> None:
        pass

    # -- browsing ------------------------------------------------------------------------------------------
    def _catalogs(self, catalog: str | None) -> list[str]:
        if catalog is None:
            return self.remote_names()
        self._remote(catalog)
        return [catalog]

    async def remotes(self, ctx: RequestContext) -> list[RemoteState]:
        self.policy.enforce(ctx, "catalog:list_remotes")
        known = {r.name: r for r in await self.db.run(lambda s: CatalogRepository(s).remotes())}
        return [
            known.get(name) or RemoteState(name, url, None, None, None, None, (), None, None, "never refreshed")
            for name, url in sorted(self.settings.catalog_remotes.items())
        ]

    async def search(self, ctx: RequestContext, *, query: str | None = None, kind: str | None = None,
                     name: str | None = None, catalog: str | None = None,
                     limit: int | None = 1000) -> list[tuple[str, Asset]]:  # fmt: skip
        """(remote, asset) of the subscribed catalogs (or ``catalog``) by remote, name and version: those of type
        ``kind``, named ``name``, whose name or description holds ``query`` (any case); at most ``limit``."""
        self.policy.enforce(ctx, "catalog:list_assets")
        if kind:
            check_type(kind)
        catalogs = self._catalogs(catalog)
        index = await self.db.run(lambda s: self.index.load(CatalogRepository(s), catalogs))
        needle = query.lower() if query else None
        found = [
            (remote, item.asset) for remote, item in index
            if (not kind or item.asset.type == kind) and (not name or item.asset.name == name)
            and (needle is None or needle in item.haystack)
        ]  # fmt: skip
        return found[:limit]

    async def find(self, ref: AssetRef, catalog: str | None = None) -> tuple[str, Asset]:
        """The asset ``ref`` of ``catalog`` (or of the first catalog, by name, that has it)."""
        catalogs = self._catalogs(catalog)

        def work(session: Any) -> tuple[str, Asset] | None:
            repo = CatalogRepository(session)
            for remote in catalogs:
                asset = repo.asset(remote, ref)
                if asset is not None:
                    return remote, asset
            return None

        found = await self.db.run(work)
        if found is None:
            raise NotFound(f"Asset {ref} is not in {'catalog ' + repr(catalog) if catalog else 'any catalog'}")
        return found

    async def show(self, ctx: RequestContext, ref: AssetRef, catalog: str | None = None) -> tuple[str, Asset]:
        self.policy.enforce(ctx, "catalog:list_assets")
        return await self.find(ref, catalog)
