"""Image membership persistence."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from glimpse.db.models import ImageMemberRow
from glimpse.domain.images import Member, MemberStatus
from glimpse.errors import NotFound


def to_domain(row: ImageMemberRow) -> Member:
    return Member(
        image_id=row.image_id,
        member_id=row.member,
        status=MemberStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class MemberRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _row(self, image_id: str, member_id: str) -> ImageMemberRow:
        row = self.session.scalars(
            select(ImageMemberRow).where(ImageMemberRow.image_id == image_id, ImageMemberRow.member == member_id)
        ).one_or_none()
        if row is None:
            raise NotFound(f"Member {member_id} not found for image {image_id}")
        return row

    def find(self, image_id: str, member_id: str) -> Member | None:
        try:
            return to_domain(self._row(image_id, member_id))
        except NotFound:
            return None

    def get(self, image_id: str, member_id: str) -> Member:
        return to_domain(self._row(image_id, member_id))

    def list(self, image_id: str, only_member: str | None = None) -> list[Member]:
        stmt = select(ImageMemberRow).where(ImageMemberRow.image_id == image_id)
        if only_member is not None:
            stmt = stmt.where(ImageMemberRow.member == only_member)
        return [to_domain(row) for row in self.session.scalars(stmt.order_by(ImageMemberRow.created_at))]

    def count(self, image_id: str) -> int:
        stmt = select(func.count()).select_from(ImageMemberRow).where(ImageMemberRow.image_id == image_id)
        return int(self.session.scalar(stmt) or 0)

    def add(self, member: Member) -> None:
        self.session.add(
            ImageMemberRow(
                image_id=member.image_id,
                member=member.member_id,
                status=member.status.value,
                created_at=member.created_at,
                updated_at=member.updated_at,
            )
        )
        self.session.flush()

    def set_status(self, image_id: str, member_id: str, status: MemberStatus, now: datetime) -> Member:
        row = self._row(image_id, member_id)
        row.status = status.value
        row.updated_at = now
        self.session.flush()
        return to_domain(row)

    def delete(self, image_id: str, member_id: str) -> None:
        self.session.delete(self._row(image_id, member_id))
        self.session.flush()
