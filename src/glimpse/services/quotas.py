"""Quota enforcement: claim before writing, hold while the work runs, release when its result is recorded.

A claim reserves quota in the database under a holder name (``upload:<image>``, ``stage:<image>``,
``import:<task>``, ``create:<image>``). While the holder works its reservation counts as usage for everyone
else, so concurrent requests cannot together pass a limit; when the holder's result is committed (the image
active with its size, the staged size recorded) the reservation is released and the committed usage takes
over. A reservation that is not renewed expires, so a crashed process cannot hold quota for ever.

Limits come from a ``LimitSource``: Keystone's unified limits, or Glimpse's own table.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Protocol

from glimpse.context import RequestContext
from glimpse.db import Database
from glimpse.db.repositories.quotas import QuotaRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.quotas import MIB, RESOURCES, SIZE_RESOURCES, UNLIMITED, Resource, check
from glimpse.errors import Conflict, Forbidden, OverLimit

LIMITS_CACHE_TIME = 1.0  # seconds Glimpse's own limits are reused (DatabaseLimits)
HOLD = timedelta(hours=1)  # a reservation lives this long without renewal
# streaming data of unknown size reserves ahead in steps this large (then exactly what it needs)
STEP = 64 * 1024 * 1024


def _whole(resource: Resource, amount: int) -> int:
    return amount // MIB if resource in SIZE_RESOURCES else amount


class LimitSource(Protocol):
    async def limits(self, project_id: str) -> dict[Resource, int]:
        """The project's limit per resource (sizes in MiB); a resource left out is unlimited."""
        ...


class DatabaseLimits:
    """Glimpse's own limits (`glimpse quota set`): a project's rows, else the ``*`` default; else unlimited.

    A project's limits are reused for ``cache_time`` seconds (a create or an upload then costs no extra
    query); a change made in this process applies at once, one made by `glimpse quota set` within that time.
    """

    def __init__(self, db: Database, cache_time: float = LIMITS_CACHE_TIME) -> None:
        self.db = db
        self.cache_time = cache_time
        self._cache: dict[str, tuple[float, dict[Resource, int]]] = {}

    async def limits(self, project_id: str) -> dict[Resource, int]:
        cached = self._cache.get(project_id)
        if cached is not None and time.monotonic() - cached[0] < self.cache_time:
            return cached[1]
        found = await self.db.run(lambda s: QuotaRepository(s).limits(project_id))
        self._cache[project_id] = (time.monotonic(), found)
        return found

    def forget(self) -> None:
        self._cache.clear()


class Claim:
    """Quota held for one piece of work; every method is a no-op for resources without a limit."""

    def __init__(
        self,
        quotas: QuotaService | None,
        project_id: str,
        holder: str,
        limits: Mapping[Resource, int],
        held: Mapping[Resource, int],
        hold: timedelta = HOLD,
    ) -> None:
        self.quotas = quotas
        self.project_id = project_id
        self.holder = holder
        self.limits = dict(limits)
        self.held = dict(held)
        self.hold = hold
        self._renewed = time.monotonic()

    def limited(self, resource: Resource) -> bool:
        return self.quotas is not None and self.limits.get(resource, UNLIMITED) != UNLIMITED

    async def cover(self, resource: Resource, amount: int) -> None:
        """Make sure ``amount`` of ``resource`` is held (raising OverLimit when it cannot be), reserving
        ahead by STEP for sizes so that a long stream takes the lock rarely; renews the hold on the way."""
        if not self.limited(resource):
            return
        assert self.quotas is not None
        due = time.monotonic() - self._renewed > self.hold.total_seconds() / 4
        if amount <= self.held.get(resource, 0) and not due:
            return
        wanted = max(amount, self.held.get(resource, 0))
        if resource in SIZE_RESOURCES and amount > self.held.get(resource, 0):
            try:
                await self.quotas.reserve(self, {resource: wanted + STEP})
                return
            except OverLimit:
                pass  # not room for a whole step: hold exactly what is needed, if that fits
        await self.quotas.reserve(self, {resource: wanted})

    async def drop(self, *resources: Resource) -> None:
        """Release some resources early (their committed usage now counts them)."""
        held = [resource for resource in resources if resource in self.held]
        if held and self.quotas is not None:
            await self.quotas.release(self.holder, held)
            for resource in held:
                self.held.pop(resource, None)

    async def release(self) -> None:
        if self.held and self.quotas is not None:
            await self.quotas.release(self.holder, None)
            self.held.clear()

    def _reserved(self, amounts: Mapping[Resource, int]) -> None:
        self.held.update(amounts)
        self._renewed = time.monotonic()


class QuotaService:
    def __init__(self, db: Database, source: LimitSource) -> None:
        self.db = db
        self.source = source

    async def claim(
        self, project_id: str | None, requests: Mapping[Resource, int], *, holder: str, hold: timedelta = HOLD
    ) -> Claim:
        """Reserve ``requests`` for ``holder`` (OverLimit, a 413, when a limit would be passed)."""
        if project_id is None:
            return Claim(None, "", holder, {}, {})
        limits = await self.source.limits(project_id)
        claim = Claim(self, project_id, holder, limits, {}, hold)
        wanted = {resource: amount for resource, amount in requests.items() if claim.limited(resource)}
        if wanted:
            await self.reserve(claim, wanted)
        return claim

    async def resume(self, project_id: str | None, holder: str, *, hold: timedelta = HOLD) -> Claim:
        """The claim ``holder`` made earlier (perhaps in another process), to extend or release it."""
        if project_id is None:
            return Claim(None, "", holder, {}, {})
        limits = await self.source.limits(project_id)
        held = await self.db.run(lambda s: QuotaRepository(s).held(holder))
        return Claim(self, project_id, holder, limits, held, hold)

    async def reserve(self, claim: Claim, amounts: Mapping[Resource, int]) -> None:
        now = utcnow()

        def work(session: Any) -> None:
            repo = QuotaRepository(session)
            repo.lock(claim.project_id)
            repo.purge_expired(claim.project_id, now)
            usage = repo.committed(claim.project_id)
            for resource, amount in repo.reserved(claim.project_id, now, excluding=claim.holder).items():
                usage[resource] += amount
            check(claim.project_id, claim.limits, usage, amounts)
            repo.reserve(claim.holder, claim.project_id, amounts, now + claim.hold)

        await self.db.run(work)
        claim._reserved(amounts)

    async def release(self, holder: str, resources: list[Resource] | None) -> None:
        await self.db.run(lambda s: QuotaRepository(s).release(holder, resources))

    async def set_limits(self, project_id: str, changes: Mapping[Resource, int | None]) -> None:
        """Glimpse's own limits (``*``: every project's default); None removes one."""
        if not isinstance(self.source, DatabaseLimits):
            raise Conflict("Limits are read from Keystone here; change them there.")

        def work(session: Any) -> None:
            repo = QuotaRepository(session)
            for resource, value in changes.items():
                repo.set_limit(project_id, resource, value)

        await self.db.run(work)
        self.source.forget()

    async def usage_of(self, ctx: RequestContext) -> dict[str, dict[str, int]]:
        """``/v2/info/usage`` for the caller's project."""
        if ctx.project_id is None:
            raise Forbidden("Quota usage is reported for a project: this token is not scoped to one.")
        return await self.usage(ctx.project_id)

    async def usage(self, project_id: str) -> dict[str, dict[str, int]]:
        """Limit and usage of each resource (sizes in whole MiB, rounded down), reservations included."""
        limits = await self.source.limits(project_id)
        now = utcnow()

        def work(session: Any) -> dict[Resource, int]:
            repo = QuotaRepository(session)
            usage = repo.committed(project_id)
            for resource, amount in repo.reserved(project_id, now).items():
                usage[resource] += amount
            return usage

        usage = await self.db.run(work)
        return {
            resource.value: {"limit": limits.get(resource, UNLIMITED), "usage": _whole(resource, usage[resource])}
            for resource in RESOURCES
        }
