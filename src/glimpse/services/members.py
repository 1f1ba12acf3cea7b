"""Image members: the owner shares a `shared` image with projects; each member accepts or rejects it."""

from __future__ import annotations

from typing import Any

from glimpse.context import RequestContext
from glimpse.db import Database
from glimpse.db.repositories.members import MemberRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.images import Image, Member, MemberStatus, Visibility
from glimpse.errors import BadRequest, Conflict, Forbidden, NotFound, TooLarge
from glimpse.policy import Policy, Target
from glimpse.services.images import ImageService, target_of
from glimpse.settings import Settings


def _target(image: Image, member_id: str | None) -> Target:
    return target_of(image, member_id)


def _require_shared(image: Image) -> None:
    if image.visibility != Visibility.SHARED:
        raise Forbidden("Only shared images have members.")


class MemberService:
    def __init__(self, settings: Settings, db: Database, policy: Policy, images: ImageService) -> None:
        self.settings = settings
        self.db = db
        self.policy = policy
        self.images = images

    async def create(self, ctx: RequestContext, image_id: str, member_id: Any) -> Member:
        if not isinstance(member_id, str) or not member_id or len(member_id) > 255:
            raise BadRequest('Member to be added not specified: body must be {"member": "<project id>"}')
        image = await self.images.load(ctx, image_id, None)
        self.policy.enforce(ctx, "add_member", _target(image, member_id))
        _require_shared(image)
        now = utcnow()
        member = Member(
            image_id=image_id, member_id=member_id, status=MemberStatus.PENDING, created_at=now, updated_at=now
        )

        def work(session: Any) -> None:
            repo = MemberRepository(session)
            if repo.find(image_id, member_id) is not None:
                raise Conflict(f"Member {member_id} already exists for image {image_id}")
            if repo.count(image_id) >= self.settings.image_member_quota:
                raise TooLarge(f"Maximum number of members exceeded: the limit is {self.settings.image_member_quota}")
            repo.add(member)

        await self.db.run(work)
        return member

    async def list(self, ctx: RequestContext, image_id: str) -> list[Member]:
        image = await self.images.load(ctx, image_id, None)
        self.policy.enforce(ctx, "get_members", _target(image, ctx.project_id))
        _require_shared(image)
        is_owner = ctx.project_id == image.owner or self.policy.check(ctx, "context_is_admin")
        only = None if is_owner else ctx.project_id
        return await self.db.run(lambda s: MemberRepository(s).list(image_id, only))

    async def get(self, ctx: RequestContext, image_id: str, member_id: str) -> Member:
        image = await self.images.load(ctx, image_id, None)
        if not self.policy.check(ctx, "get_member", _target(image, member_id)):
            raise NotFound(f"Member {member_id} not found for image {image_id}")
        if image.visibility != Visibility.SHARED:
            raise NotFound("Only shared images have members.")  # as Glance: 404 rather than 403 on show
        return await self.db.run(lambda s: MemberRepository(s).get(image_id, member_id))

    async def update(self, ctx: RequestContext, image_id: str, member_id: str, status: Any) -> Member:
        image = await self.images.load(ctx, image_id, None)
        if status not in [s.value for s in MemberStatus]:
            raise BadRequest(
                f"Provided object does not match schema 'member': {status!r} is not one of "
                f"{[s.value for s in MemberStatus]}"
            )
        _require_shared(image)
        member = await self.db.run(lambda s: MemberRepository(s).find(image_id, member_id))
        if member is None:
            raise NotFound(f"Member {member_id} not found for image {image_id}")
        self.policy.enforce(ctx, "modify_member", _target(image, member_id))
        return await self.db.run(
            lambda s: MemberRepository(s).set_status(image_id, member_id, MemberStatus(status), utcnow())
        )

    async def delete(self, ctx: RequestContext, image_id: str, member_id: str) -> None:
        image = await self.images.load(ctx, image_id, None)
        _require_shared(image)
        self.policy.enforce(ctx, "delete_member", _target(image, member_id))
        await self.db.run(lambda s: MemberRepository(s).delete(image_id, member_id))
