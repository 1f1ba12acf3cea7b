"""Quotas: limits, per-project usage and reservations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Index,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from glimpse.db.models.base import Base


class QuotaLimitRow(Base):
    """Glimpse's own limits (embedded mode): per project, or the default for all (project ``*``)."""

    __tablename__ = "quota_limits"

    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class QuotaProjectRow(Base):
    """One row per project that has claimed quota: locking it serialises that project's claims."""

    __tablename__ = "quota_projects"

    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    claims: Mapped[int] = mapped_column(BigInteger, default=0)


class QuotaReservationRow(Base):
    """Quota held by work in progress (an upload, a stage, an import) until its result is recorded."""

    __tablename__ = "quota_reservations"

    holder: Mapped[str] = mapped_column(String(80), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (Index("ix_quota_reservations_project_id", "project_id"),)
