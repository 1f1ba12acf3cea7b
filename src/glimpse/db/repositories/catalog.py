"""The subscribed catalogs' state (``catalog_remotes``) and their verified index (``catalog_assets``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from glimpse.db.models import CatalogAssetRow, CatalogInstallRow, CatalogRemoteRow
from glimpse.domain.catalog import Asset, AssetRef


@dataclass(frozen=True, slots=True)
class RemoteState:
    name: str
    url: str
    root_version: int | None
    targets_version: int | None
    timestamp_version: int | None
    expires_at: datetime | None
    signers: tuple[str, ...]
    refreshed_at: datetime | None
    attempted_at: datetime | None
    last_error: str


@dataclass(frozen=True, slots=True)
class Verified:
    """What a successful refresh read from a catalog's verified metadata."""

    root_version: int
    targets_version: int
    timestamp_version: int
    expires_at: datetime
    signers: tuple[str, ...]
    assets: Sequence[Asset]


@dataclass(frozen=True, slots=True)
class IndexStamp:
    """What changes whenever a remote's index is replaced: its targets version and its last good refresh."""

    targets_version: int | None
    refreshed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Installed:
    """An asset installed into ``project``: ``local_type`` ("image", an artifact type, "bundle") and id."""

    project: str
    sha256: str
    remote: str
    name: str
    version: str
    type: str
    local_type: str
    local_id: str | None
    signers: tuple[str, ...]
    task_id: str


def _asset(row: CatalogAssetRow) -> Asset:
    return Asset(row.type, row.name, row.version, row.path, row.sha256, row.length,
                 tuple(AssetRef.parse(d) for d in row.depends), dict(row.details))  # fmt: skip


def _state(row: CatalogRemoteRow) -> RemoteState:
    return RemoteState(row.name, row.url, row.root_version, row.targets_version, row.timestamp_version,
                       row.expires_at, tuple(row.signers or ()), row.refreshed_at, row.attempted_at,
                       row.last_error)  # fmt: skip


class CatalogRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _remote(self, name: str, url: str) -> CatalogRemoteRow:
        row = self.session.get(CatalogRemoteRow, name)
        if row is None:
            row = CatalogRemoteRow(name=name, url=url, signers=[], last_error="")
            self.session.add(row)
        row.url = url
        return row

    def record_refresh(self, name: str, url: str, verified: Verified, now: datetime) -> None:
        """Replace the remote's index with what its newly verified metadata lists."""
        row = self._remote(name, url)
        row.root_version, row.targets_version = verified.root_version, verified.targets_version
        row.timestamp_version, row.expires_at = verified.timestamp_version, verified.expires_at
        row.signers = list(verified.signers)
        row.refreshed_at = row.attempted_at = now
        row.last_error = ""
        self.session.execute(delete(CatalogAssetRow).where(CatalogAssetRow.remote == name))
        self.session.add_all(
            CatalogAssetRow(remote=name, name=a.name, version=a.version, type=a.type, path=a.path, sha256=a.sha256,
                            length=a.length, depends=[str(d) for d in a.depends], details=dict(a.metadata))
            for a in verified.assets
        )  # fmt: skip

    def record_failure(self, name: str, url: str, message: str, now: datetime) -> None:
        """A refresh failed: the last good index stays, the error is shown."""
        row = self._remote(name, url)
        row.attempted_at = now
        row.last_error = message[:4000]

    def remotes(self) -> list[RemoteState]:
        return [_state(r) for r in self.session.scalars(select(CatalogRemoteRow).order_by(CatalogRemoteRow.name))]

    def remote(self, name: str) -> RemoteState | None:
        row = self.session.get(CatalogRemoteRow, name)
        return _state(row) if row is not None else None

    def stamps(self, remotes: Sequence[str]) -> dict[str, IndexStamp]:
        """The index stamp of each of ``remotes`` that was ever refreshed."""
        R = CatalogRemoteRow
        rows = self.session.execute(select(R.name, R.targets_version, R.refreshed_at).where(R.name.in_(list(remotes))))
        return {name: IndexStamp(version, refreshed) for name, version, refreshed in rows}

    def asset(self, remote: str, ref: AssetRef) -> Asset | None:
        row = self.session.get(CatalogAssetRow, (remote, ref.name, ref.version))
        return _asset(row) if row is not None else None

    def assets(self, remotes: Sequence[str], *, query: str | None = None, kind: str | None = None,
               name: str | None = None, limit: int | None = 1000) -> list[tuple[str, Asset]]:  # fmt: skip
        """(remote, asset) of ``remotes``, filtered by a word of the name or description, type and name."""
        stmt = select(CatalogAssetRow).where(CatalogAssetRow.remote.in_(list(remotes)))
        if kind:
            stmt = stmt.where(CatalogAssetRow.type == kind)
        if name:
            stmt = stmt.where(CatalogAssetRow.name == name)
        stmt = stmt.order_by(CatalogAssetRow.remote, CatalogAssetRow.name, CatalogAssetRow.version)
        rows = list(self.session.scalars(stmt))
        if query:  # descriptions live in JSON: matched here, portable across databases
            needle = query.lower()
            rows = [r for r in rows if needle in f"{r.name}\n{r.details.get('description', '')}".lower()]
        return [(r.remote, _asset(r)) for r in rows[:limit]]

    def forget(self, keep: Sequence[str]) -> None:
        """Drop the state of remotes no longer configured."""
        self.session.execute(delete(CatalogAssetRow).where(~CatalogAssetRow.remote.in_(list(keep))))
        self.session.execute(delete(CatalogRemoteRow).where(~CatalogRemoteRow.name.in_(list(keep))))

    # -- installs ------------------------------------------------------------------------------------------
    def installed(self, project: str, sha256: str) -> Installed | None:
        row = self.session.get(CatalogInstallRow, (project, sha256))
        if row is None:
            return None
        return Installed(row.project, row.sha256, row.remote, row.name, row.version, row.type, row.local_type,
                         row.local_id, tuple(row.signers or ()), row.task_id)  # fmt: skip

    def record_install(self, item: Installed, now: datetime) -> None:
        row = self.session.get(CatalogInstallRow, (item.project, item.sha256))
        if row is None:
            row = CatalogInstallRow(project=item.project, sha256=item.sha256)
            self.session.add(row)
        row.remote, row.name, row.version, row.type = item.remote, item.name, item.version, item.type
        row.local_type, row.local_id, row.signers = item.local_type, item.local_id, list(item.signers)
        row.task_id, row.installed_at = item.task_id, now
