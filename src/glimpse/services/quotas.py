"""Quota enforcement: claim before writing, hold while the work runs, release when its result is recorded.

A claim reserves quota in the database under a holder name (``upload:<image>``, ``stage:<image>``,
``import:<task>``, ``create:<image>``). While the holder works its reservation counts as usage for everyone
else, so concurrent requests cannot together pass a limit; when the holder's result is committed (the image
active with its size, the staged size recorded) the reservation is released and the committed usage takes
over. A reservation that is not renewed expires, so a crashed process cannot hold quota for ever.

Two rules keep a claim's count exact on PostgreSQL, where each statement of a read-committed transaction sees
what was committed when it began, so a claim's reads of reservations and of committed usage can fall on
either side of another holder's commits. A claim reads the reservations before the committed usage: a holder
that records its result and then releases (two transactions) is then seen at least once, never missed (read
the other way round, an upload that became active between the reads and released before the second was
counted by neither: 20 concurrent uploads of unknown size passed a 10 MiB limit with 11 MiB). And a holder
that can, settles (:meth:`Claim.settle`): its reservation ends in the transaction that records its result,
under the project's lock, so no claim counts it twice either (an upload that was active and still reserved
made a claim refuse an upload that fitted).

Limits come from a ``LimitSource``: Keystone's unified limits, or Glimpse's own table. What a project uses
and how passing a limit is reported belong to a ``Ledger``: the images' (Glance's four resources) or the
artifacts' (Glare's ``max_uploaded_data`` quotas, ``services/artifacts/quotas.py``), each over the same lock,
reservations and claims.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any, Generic, Protocol, TypeVar

from glimpse.context import RequestContext
from glimpse.db import Database, after_commit
from glimpse.db.repositories.quotas import QuotaRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.quotas import MIB, RESOURCES, SIZE_RESOURCES, UNLIMITED, Resource, check
from glimpse.errors import Conflict, Forbidden, OverLimit

LIMITS_CACHE_TIME = 1.0  # seconds Glimpse's own limits are reused (DatabaseLimits)
HOLD = timedelta(hours=1)  # a reservation lives this long without renewal
# streaming data of unknown size reserves ahead in steps this large (then exactly what it needs)
STEP = 64 * 1024 * 1024


R = TypeVar("R", bound=str)


def _whole(resource: Resource, amount: int) -> int:
    return amount // MIB if resource in SIZE_RESOURCES else amount


class Limits(Protocol[R]):
    async def limits(self, project_id: str) -> Mapping[R, int]:
        """The project's limit per resource; a resource left out is unlimited."""
        ...


LimitSource = Limits[Resource]
"""The images' limits (sizes in MiB)."""


class Ledger(Protocol[R]):
    """A family of resources: which reservations are its own, what a project uses now, what passing a
    limit raises."""

    def counts_bytes(self, resource: R) -> bool:
        """Is ``resource`` a size in bytes (a stream of unknown size reserves ahead for it)?"""
        ...

    def parse(self, name: str) -> R | None:
        """A reservation's resource name as one of this family's, or None when it is another's."""
        ...

    def committed(self, session: Any, project_id: str, resources: Iterable[R]) -> dict[R, int]:
        """What the project uses now of ``resources`` (at least), reservations not included."""
        ...

    def check(
        self, project_id: str, limits: Mapping[R, int], usage: Mapping[R, int], requested: Mapping[R, int]
    ) -> None:
        """Raise OverLimit when usage plus the request would pass a limit."""
        ...


class ImageLedger:
    """Glance's four resources (domain/quotas.py), counted from the images' tables."""

    def counts_bytes(self, resource: Resource) -> bool:
        return resource in SIZE_RESOURCES

    def parse(self, name: str) -> Resource | None:
        try:
            return Resource(name)
        except ValueError:
            return None

    def committed(self, session: Any, project_id: str, resources: Iterable[Resource]) -> dict[Resource, int]:
        return QuotaRepository(session).committed(project_id)

    def check(
        self,
        project_id: str,
        limits: Mapping[Resource, int],
        usage: Mapping[Resource, int],
        requested: Mapping[Resource, int],
    ) -> None:
        check(project_id, limits, usage, requested)


IMAGES = ImageLedger()


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


class Claim(Generic[R]):
    """Quota held for one piece of work; every method is a no-op for resources without a limit."""

    def __init__(
        self,
        quotas: QuotaService[R] | None,
        project_id: str,
        holder: str,
        limits: Mapping[R, int],
        held: Mapping[R, int],
        hold: timedelta = HOLD,
    ) -> None:
        self.quotas = quotas
        self.project_id = project_id
        self.holder = holder
        self.limits = dict(limits)
        self.held = dict(held)
        self.hold = hold
        self._renewed = time.monotonic()

    def limited(self, resource: R) -> bool:
        return self.quotas is not None and self.limits.get(resource, UNLIMITED) != UNLIMITED

    async def cover(self, resource: R, amount: int) -> None:
        """Make sure ``amount`` of ``resource`` is held (see :meth:`cover_all`)."""
        await self.cover_all({resource: amount})

    async def cover_all(self, amounts: Mapping[R, int]) -> None:
        """Make sure each amount is held (raising OverLimit when one cannot be), reserving ahead by STEP for
        sizes so that a long stream takes the lock rarely; renews the hold on the way."""
        limited = {resource: amount for resource, amount in amounts.items() if self.limited(resource)}
        if not limited:
            return
        assert self.quotas is not None
        due = time.monotonic() - self._renewed > self.hold.total_seconds() / 4
        if not due and all(amount <= self.held.get(resource, 0) for resource, amount in limited.items()):
            return
        exact = {resource: max(amount, self.held.get(resource, 0)) for resource, amount in limited.items()}
        ledger = self.quotas.ledger
        growing = [r for r, amount in limited.items() if ledger.counts_bytes(r) and amount > self.held.get(r, 0)]
        if growing:
            try:
                await self.quotas.reserve(self, {**exact, **{r: exact[r] + STEP for r in growing}})
                return
            except OverLimit:
                pass  # not room for a whole step: hold exactly what is needed, if that fits
        await self.quotas.reserve(self, exact)

    async def drop(self, *resources: R) -> None:
        """Release some resources early (their committed usage now counts them)."""
        held = [resource for resource in resources if resource in self.held]
        if held and self.quotas is not None:
            await self.quotas.release(self.holder, held)
            for resource in held:
                self.held.pop(resource, None)

    def settle(self, session: Any) -> None:
        """Inside the transaction that records what the claim was for (the image active with its size): the
        reservation ends when it commits, under the project's lock, so that no claim sees both (module
        docstring). A claim settled this way has nothing left to release once that commit is done."""
        if not self.held or self.quotas is None:
            return
        repo = QuotaRepository(session)
        repo.lock(self.project_id)
        repo.release(self.holder)
        after_commit(session, self.held.clear)

    async def release(self) -> None:
        if self.held and self.quotas is not None:
            await self.quotas.release(self.holder, None)
            self.held.clear()

    def _reserved(self, amounts: Mapping[R, int]) -> None:
        self.held.update(amounts)
        self._renewed = time.monotonic()


class QuotaService(Generic[R]):
    def __init__(self, db: Database, source: Limits[R], ledger: Ledger[R]) -> None:
        self.db = db
        self.source = source
        self.ledger = ledger

    async def claim(
        self, project_id: str | None, requests: Mapping[R, int], *, holder: str, hold: timedelta = HOLD
    ) -> Claim[R]:
        """Reserve ``requests`` for ``holder`` (OverLimit, a 413, when a limit would be passed)."""
        if project_id is None:
            return Claim(None, "", holder, {}, {})
        limits = await self.source.limits(project_id)
        claim = Claim(self, project_id, holder, limits, {}, hold)
        wanted = {resource: amount for resource, amount in requests.items() if claim.limited(resource)}
        if wanted:
            await self.reserve(claim, wanted)
        return claim

    async def claim_and_commit(
        self,
        project_id: str | None,
        requests: Mapping[R, int],
        commit: Callable[[], Awaitable[None]],
        *,
        holder: str,
        hold: timedelta = HOLD,
        then_drop: Iterable[R] = (),
    ) -> None:
        """Claim ``requests``, then ``commit`` the transaction that records what the claim is for (a task): if
        it fails the claim is released; once it is committed, ``then_drop`` is dropped from the claim (the
        committed rows count it from now on) and the rest stays held for the task."""
        claim = await self.claim(project_id, requests, holder=holder, hold=hold)
        try:
            await commit()
        except BaseException:
            await asyncio.shield(claim.release())
            raise
        await claim.drop(*then_drop)

    async def resume(self, project_id: str | None, holder: str, *, hold: timedelta = HOLD) -> Claim[R]:
        """The claim ``holder`` made earlier (perhaps in another process), to extend or release it."""
        if project_id is None:
            return Claim(None, "", holder, {}, {})
        limits = await self.source.limits(project_id)
        held = self._own(await self.db.run(lambda s: QuotaRepository(s).held(holder)))
        return Claim(self, project_id, holder, limits, held, hold)

    def _own(self, amounts: Mapping[str, int]) -> dict[R, int]:
        """The amounts of this ledger's resources among a reservation's rows."""
        own: dict[R, int] = {}
        for name, amount in amounts.items():
            resource = self.ledger.parse(name)
            if resource is not None:
                own[resource] = own.get(resource, 0) + amount
        return own

    async def reserve(self, claim: Claim[R], amounts: Mapping[R, int]) -> None:
        now = utcnow()

        def work(session: Any) -> None:
            repo = QuotaRepository(session)
            repo.lock(claim.project_id)
            repo.purge_expired(claim.project_id, now)
            # the reservations first, then the committed usage (module docstring)
            reserved = self._own(repo.reserved(claim.project_id, now, excluding=claim.holder))
            usage = self.ledger.committed(session, claim.project_id, amounts)
            for resource, amount in reserved.items():
                usage[resource] = usage.get(resource, 0) + amount
            self.ledger.check(claim.project_id, claim.limits, usage, amounts)
            repo.reserve(claim.holder, claim.project_id, {str(r): a for r, a in amounts.items()}, now + claim.hold)

        await self.db.run(work)
        claim._reserved(amounts)

    async def release(self, holder: str, resources: list[R] | None) -> None:
        await self.db.run(lambda s: QuotaRepository(s).release(holder, resources))

    async def set_limits(self: QuotaService[Resource], project_id: str, changes: Mapping[Resource, int | None]) -> None:
        """Glimpse's own limits (``*``: every project's default); None removes one."""
        if not isinstance(self.source, DatabaseLimits):
            raise Conflict("Limits are read from Keystone here; change them there.")

        def work(session: Any) -> None:
            repo = QuotaRepository(session)
            for resource, value in changes.items():
                repo.set_limit(project_id, resource, value)

        await self.db.run(work)
        self.source.forget()

    async def usage_of(self: QuotaService[Resource], ctx: RequestContext) -> dict[str, dict[str, int]]:
        """``/v2/info/usage`` for the caller's project: empty, as Glance without Keystone limits answers, when
        Glimpse's own limits leave the project unlimited."""
        if ctx.project_id is None:
            raise Forbidden("Quota usage is reported for a project: this token is not scoped to one.")
        if isinstance(self.source, DatabaseLimits) and not await self.source.limits(ctx.project_id):
            return {}
        return await self.usage(ctx.project_id)

    async def usage(self: QuotaService[Resource], project_id: str) -> dict[str, dict[str, int]]:
        """Limit and usage of each resource (sizes in whole MiB, rounded down), reservations included."""
        limits = await self.source.limits(project_id)
        now = utcnow()

        def work(session: Any) -> dict[Resource, int]:
            repo = QuotaRepository(session)
            usage = repo.committed(project_id)
            for resource, amount in self._own(repo.reserved(project_id, now)).items():
                usage[resource] += amount
            return usage

        usage = await self.db.run(work)
        return {
            resource.value: {"limit": limits.get(resource, UNLIMITED), "usage": _whole(resource, usage[resource])}
            for resource in RESOURCES
        }
