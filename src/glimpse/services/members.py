"""Image members: the owner shares a `shared` image with projects; each member accepts or rejects it.

Each operation follows Glance's order of checks, which decides between 404, 403 and 400 when several
apply: the image must be visible (404); it must be `shared` (403, 404 on show); ``get_image`` and then the
operation's rule are enforced on it (:func:`enforce_on_image`: 404 when the caller may not see the image,
403 otherwise); a member row is found only by the image's owner, the member project itself or an admin
(404 otherwise).
"""

from __future__ import annotations

from typing import Any

from glimpse.context import RequestContext
from glimpse.db import Database
from glimpse.db.repositories.members import MemberRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.images import Image, Member, MemberStatus, Visibility
from glimpse.errors import BadRequest, Conflict, Forbidden, NotFound, TooLarge
from glimpse.events import NO_EVENTS, Events, payloads
from glimpse.policy import Policy
from glimpse.services.images import ImageService, enforce_on_image, image_target
from glimpse.settings import Settings

ONLY_SHARED = "Only shared images have members."


class MemberService:
    def __init__(self, settings: Settings, db: Database, policy: Policy, images: ImageService) -> None:
        self.settings = settings
        self.db = db
        self.policy = policy
        self.images = images
        self.events: Events = NO_EVENTS  # the container sets it

    def _enforce(self, ctx: RequestContext, rule: str, image: Image) -> None:
        enforce_on_image(self.policy, ctx, "get_image", image)
        enforce_on_image(self.policy, ctx, rule, image)

    def _only_member(self, ctx: RequestContext, image: Image) -> str | None:
        """The one member row a caller may find: none but its own unless it owns the image or is admin."""
        if ctx.project_id == image.owner or self.policy.check(ctx, "context_is_admin"):
            return None
        return ctx.project_id or ""

    async def _find(self, ctx: RequestContext, image: Image, member_id: str, *, replica: bool = False) -> Member:
        self._enforce(ctx, "get_member", image)
        only = self._only_member(ctx, image)
        member = None
        if only is None or only == member_id:
            run = self.db.read if replica else self.db.run
            member = await run(lambda s: MemberRepository(s).find(image.id, member_id))
        if member is None:
            raise NotFound(f"{member_id} not found in the member list of the image {image.id}.")
        return member

    async def _image(self, ctx: RequestContext, image_id: str, *, replica: bool = False) -> Image:
        """``replica``: a read replica may serve it (the member list and show, nothing a change is decided on)."""
        try:
            return await self.images.load(ctx, image_id, None, replica=replica)
        except NotFound:
            raise NotFound(f"Image {image_id} not found.") from None  # Glance's words on the members API

    async def create(self, ctx: RequestContext, image_id: str, body: dict[str, Any]) -> Member:
        # Glance's checks of the body, before the image is looked up
        if "member" not in body:
            raise BadRequest("Member to be added not specified")
        member_id = body["member"]
        if not member_id:
            raise BadRequest("Member can't be empty")
        if not isinstance(member_id, str) or len(member_id) > 255:  # Glance: a 500 (or a database error)
            raise BadRequest('Expected a member in the form: {"member": "image_id"}')
        image = await self._image(ctx, image_id)
        if image.visibility != Visibility.SHARED:
            raise Forbidden(f"Not allowed to create members for image {image_id}.")
        self._enforce(ctx, "add_member", image)
        now = utcnow()
        member = Member(
            image_id=image_id, member_id=member_id, status=MemberStatus.PENDING, created_at=now, updated_at=now
        )

        duplicated = f"Member {member_id} is duplicated for image {image_id}"  # also when a racing add wins

        def work(session: Any) -> None:
            repo = MemberRepository(session)
            if repo.find(image_id, member_id) is not None:
                raise Conflict(duplicated)
            if repo.count(image_id) >= self.settings.image_member_quota:
                raise TooLarge(f"Maximum number of members exceeded: the limit is {self.settings.image_member_quota}")
            repo.add(member)
            self.events.emit(session, "image.member.create", payloads.member(member), project=image.owner)

        await self.db.run(work, duplicate=duplicated)
        return member

    async def list(self, ctx: RequestContext, image_id: str) -> list[Member]:
        image = await self._image(ctx, image_id, replica=True)
        if image.visibility != Visibility.SHARED:
            raise Forbidden(f"Not allowed to list members for image {image_id}: {ONLY_SHARED}")
        self._enforce(ctx, "get_members", image)
        if not self.policy.check(ctx, "get_member", image_target(ctx, image)):
            return []  # as Glance: each member must pass get_member (all share one target)
        only = self._only_member(ctx, image)
        return await self.db.read(lambda s: MemberRepository(s).list(image_id, only))

    async def get(self, ctx: RequestContext, image_id: str, member_id: str) -> Member:
        image = await self._image(ctx, image_id, replica=True)
        try:
            if image.visibility != Visibility.SHARED:
                raise Forbidden(ONLY_SHARED)
            return await self._find(ctx, image, member_id, replica=True)
        except Forbidden as exc:
            raise NotFound(exc.message) from None  # as Glance: no 403 on show, so nothing leaks

    async def update(self, ctx: RequestContext, image_id: str, member_id: str, body: dict[str, Any]) -> Member:
        if "status" not in body:  # Glance's check of the body, before the image is looked up
            raise BadRequest("Status not specified")
        status = body["status"]
        image = await self._image(ctx, image_id)
        if image.visibility != Visibility.SHARED:
            raise Forbidden(f"Not allowed to update members for image {image_id}.")
        await self._find(ctx, image, member_id)
        self._enforce(ctx, "modify_member", image)
        if status not in [s.value for s in MemberStatus]:
            raise BadRequest('Incorrect request: Status must be "pending", "accepted" or "rejected".')

        def work(session: Any) -> Member:
            member = MemberRepository(session).set_status(image_id, member_id, MemberStatus(status), utcnow())
            self.events.emit(session, "image.member.update", payloads.member(member), project=image.owner)
            return member

        return await self.db.run(work)

    async def delete(self, ctx: RequestContext, image_id: str, member_id: str) -> None:
        image = await self._image(ctx, image_id)
        if image.visibility != Visibility.SHARED:
            raise Forbidden(f"Not allowed to delete members for image {image_id}.")
        member = await self._find(ctx, image, member_id)
        self._enforce(ctx, "delete_member", image)

        def work(session: Any) -> None:
            MemberRepository(session).delete(image_id, member_id)
            self.events.emit(session, "image.member.delete", payloads.member(member, deleted=True), project=image.owner)

        await self.db.run(work)
