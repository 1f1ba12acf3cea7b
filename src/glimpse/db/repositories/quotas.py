"""Quota limits (embedded mode), usage and reservations.

A claim runs in one transaction that first locks the project's row in ``quota_projects`` (an UPDATE: a row
lock on PostgreSQL, the database write lock on SQLite, taken before anything is read), then reads the
committed usage and the live reservations and records its own reservation. Claims of one project are
therefore serialised and each sees every claim committed before it: concurrent requests cannot together
pass a limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from glimpse.db.dialects import insert_ignoring_conflicts
from glimpse.db.models import (
    ImageLocationRow,
    ImagePropertyRow,
    ImageRow,
    QuotaLimitRow,
    QuotaProjectRow,
    QuotaReservationRow,
)
from glimpse.domain.quotas import Resource

DEFAULT_PROJECT = "*"  # the quota_limits row that applies to every project without its own
IN_PROGRESS = ("saving", "uploading", "importing")
STAGED = ("uploading", "importing")
IMPORTING_TO = "os_glance_importing_to_stores"


class QuotaRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- limits (embedded mode) -----------------------------------------------------------------------
    def limits(self, project_id: str) -> dict[Resource, int]:
        rows = self.session.execute(
            select(QuotaLimitRow.project_id, QuotaLimitRow.resource, QuotaLimitRow.value).where(
                QuotaLimitRow.project_id.in_([project_id, DEFAULT_PROJECT])
            )
        ).all()
        ordered = sorted(rows, key=lambda row: row.project_id != DEFAULT_PROJECT)  # the project's own rows win
        known = {resource.value for resource in Resource}  # the artifacts' quotas share the table
        return {Resource(row.resource): row.value for row in ordered if row.resource in known}

    def set_limit(self, project_id: str, resource: Resource, value: int | None) -> None:
        """Set (or with None remove) one limit of a project, or of every project for ``*``."""
        self.session.execute(
            delete(QuotaLimitRow).where(QuotaLimitRow.project_id == project_id, QuotaLimitRow.resource == resource)
        )
        if value is not None:
            self.session.add(QuotaLimitRow(project_id=project_id, resource=resource.value, value=value))

    # -- named limits of another family (the artifacts' Glare quotas) --------------------------------
    def named_limits(self, project_id: str | None, families: Iterable[str]) -> dict[str, dict[str, int]]:
        """Every project's (or one project's) limits whose names are ``<family>`` or ``<family>:...``."""
        column = QuotaLimitRow.resource
        names = or_(*(or_(column == family, column.startswith(f"{family}:", autoescape=True)) for family in families))
        query = select(QuotaLimitRow.project_id, QuotaLimitRow.resource, QuotaLimitRow.value).where(names)
        if project_id is not None:
            query = query.where(QuotaLimitRow.project_id == project_id)
        found: dict[str, dict[str, int]] = {}
        for row in self.session.execute(query.order_by(QuotaLimitRow.project_id, QuotaLimitRow.resource)).all():
            found.setdefault(row.project_id, {})[row.resource] = int(row.value)
        return found

    def replace_named_limits(self, project_id: str, families: Iterable[str], values: Mapping[str, int]) -> None:
        """The project's limits of ``families`` become exactly ``values``."""
        for name in self.named_limits(project_id, families).get(project_id, {}):
            self.session.execute(
                delete(QuotaLimitRow).where(QuotaLimitRow.project_id == project_id, QuotaLimitRow.resource == name)
            )
        for name, value in values.items():
            self.session.add(QuotaLimitRow(project_id=project_id, resource=name, value=value))

    # -- usage ----------------------------------------------------------------------------------------
    def lock(self, project_id: str) -> None:
        """Serialise this project's claims until the transaction ends (see the module docstring)."""
        self.session.execute(
            insert_ignoring_conflicts(self.session, QuotaProjectRow).values(project_id=project_id, claims=0)
        )
        self.session.execute(
            update(QuotaProjectRow)
            .where(QuotaProjectRow.project_id == project_id)
            .values(claims=QuotaProjectRow.claims + 1)
        )

    def committed(self, project_id: str) -> dict[Resource, int]:
        """What the project's images use now (sizes in bytes), reservations not included."""
        live = and_(ImageRow.owner == project_id, ImageRow.deleted.is_(False))
        count_total = self.session.execute(select(func.count()).select_from(ImageRow).where(live)).scalar_one()
        copying = select(ImagePropertyRow.image_id).where(
            ImagePropertyRow.name == IMPORTING_TO, ImagePropertyRow.value != ""
        )
        uploading = self.session.execute(
            select(func.count())
            .select_from(ImageRow)
            .where(live, or_(ImageRow.status.in_(IN_PROGRESS), ImageRow.id.in_(copying)))
        ).scalar_one()
        stored = self.session.execute(
            select(func.coalesce(func.sum(ImageRow.size), 0))
            .select_from(ImageRow)
            .join(ImageLocationRow, ImageLocationRow.image_id == ImageRow.id)
            .where(live, ImageRow.size.is_not(None))
        ).scalar_one()
        staged = self.session.execute(
            select(func.coalesce(func.sum(ImageRow.size), 0))
            .select_from(ImageRow)
            .where(live, ImageRow.status.in_(STAGED), ImageRow.size.is_not(None))
        ).scalar_one()
        return {
            Resource.IMAGE_SIZE_TOTAL: int(stored or 0),
            Resource.IMAGE_STAGE_TOTAL: int(staged or 0),
            Resource.IMAGE_COUNT_TOTAL: int(count_total),
            Resource.IMAGE_COUNT_UPLOADING: int(uploading),
        }

    def reserved(self, project_id: str, now: datetime, *, excluding: str | None = None) -> dict[str, int]:
        """Quota held by live reservations (``excluding`` one holder's own), by resource name (the images' and
        the artifacts' alike)."""
        query = (
            select(QuotaReservationRow.resource, func.sum(QuotaReservationRow.amount))
            .where(QuotaReservationRow.project_id == project_id, QuotaReservationRow.expires_at > now)
            .group_by(QuotaReservationRow.resource)
        )
        if excluding is not None:
            query = query.where(QuotaReservationRow.holder != excluding)
        return {str(resource): int(amount) for resource, amount in self.session.execute(query).all()}

    def held(self, holder: str) -> dict[str, int]:
        rows = self.session.execute(
            select(QuotaReservationRow.resource, QuotaReservationRow.amount).where(QuotaReservationRow.holder == holder)
        ).all()
        return {str(resource): int(amount) for resource, amount in rows}

    # -- reservations ---------------------------------------------------------------------------------
    def reserve(self, holder: str, project_id: str, amounts: Mapping[str, int], expires_at: datetime) -> None:
        """Set ``holder``'s reservation of each resource to the given amount (replacing what it held)."""
        for resource, amount in amounts.items():
            row = self.session.get(QuotaReservationRow, (holder, str(resource)))
            if row is None:
                self.session.add(
                    QuotaReservationRow(
                        holder=holder, resource=str(resource), project_id=project_id, amount=amount,
                        expires_at=expires_at,
                    )
                )  # fmt: skip
            else:
                row.amount = amount
                row.expires_at = expires_at

    def release(self, holder: str, resources: Iterable[str] | None = None) -> None:
        query = delete(QuotaReservationRow).where(QuotaReservationRow.holder == holder)
        if resources is not None:
            query = query.where(QuotaReservationRow.resource.in_([str(r) for r in resources]))
        self.session.execute(query)

    def purge_expired(self, project_id: str, now: datetime) -> None:
        """Forget reservations whose holder stopped renewing them (a crashed process)."""
        self.session.execute(
            delete(QuotaReservationRow).where(
                QuotaReservationRow.project_id == project_id, QuotaReservationRow.expires_at <= now
            )
        )
