"""glimpse.services.quotas on a real database: a claim made for a task is released when the transaction that
records the task fails, and keeps (or drops) what the committed task holds; an upload that finishes while
another claim is counting is counted by it; a settled claim ends with the transaction that records its
result."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from glimpse.container import Services
from glimpse.db.repositories.quotas import QuotaRepository
from glimpse.domain.quotas import MIB, Resource
from glimpse.errors import OverLimit
from glimpse.services.quotas import DatabaseLimits, ImageLedger, QuotaService

PROJECT = "tenant-a"
ONE_UPLOAD = {Resource.IMAGE_COUNT_UPLOADING: 1, Resource.IMAGE_SIZE_TOTAL: 1024**2}


class Refused(Exception):
    pass


def _limit(services: Services) -> None:
    # one upload and 1 MiB at a time for the project
    asyncio.run(
        services.images.quotas.set_limits(PROJECT, {Resource.IMAGE_COUNT_UPLOADING: 1, Resource.IMAGE_SIZE_TOTAL: 1})
    )


def _claim_and_commit(services: Services, holder: str, *, fail: bool, then_drop: list[Resource]) -> None:
    async def commit() -> None:
        if fail:
            raise Refused("the task's transaction failed")

    asyncio.run(
        services.images.quotas.claim_and_commit(PROJECT, ONE_UPLOAD, commit, holder=holder, then_drop=then_drop)
    )


def _another_upload_fits(services: Services) -> bool:
    async def claim() -> bool:
        try:
            held = await services.images.quotas.claim(PROJECT, {Resource.IMAGE_COUNT_UPLOADING: 1}, holder="probe")
        except OverLimit:
            return False
        await held.release()
        return True

    return asyncio.run(claim())


def test_a_failed_commit_releases_the_whole_claim(services: Services) -> None:
    _limit(services)
    with pytest.raises(Refused):
        _claim_and_commit(services, "import:failed", fail=True, then_drop=[])
    assert _another_upload_fits(services)


def test_a_committed_task_keeps_its_claim_but_what_it_drops(services: Services) -> None:
    _limit(services)
    _claim_and_commit(services, "import:kept", fail=False, then_drop=[])
    assert not _another_upload_fits(services)  # the task holds its upload slot

    asyncio.run(services.images.quotas.release("import:kept", None))
    _claim_and_commit(services, "import:dropped", fail=False, then_drop=[Resource.IMAGE_COUNT_UPLOADING])
    assert _another_upload_fits(services)  # the slot was dropped, the size stays held
    with pytest.raises(OverLimit):
        asyncio.run(services.images.quotas.claim(PROJECT, {Resource.IMAGE_SIZE_TOTAL: 1}, holder="probe-size"))


class FinishingBetweenReads(ImageLedger):
    """Between a claim's two reads (of the reservations and of the committed usage, whichever comes first)
    another upload finishes as the code without settling does it: its image becomes active (counted by a read
    of the committed usage from then on), then its reservation is released, from another connection."""

    def __init__(self, quotas: Callable[[], QuotaService[Resource]], holder: str) -> None:
        self.quotas = quotas
        self.holder = holder
        self.active = 0
        self.reads = 0
        self.armed = False  # from the second claim on
        self.finisher: threading.Thread | None = None
        self.errors: list[BaseException] = []

    def committed(self, session: Any, project_id: str, resources: Any) -> dict[Resource, int]:
        usage = super().committed(session, project_id, resources)
        usage[Resource.IMAGE_SIZE_TOTAL] += self.active
        self.read()
        return usage

    def read(self) -> None:
        if not self.armed:
            return
        self.reads += 1
        if self.reads == 1:
            self.finisher = threading.Thread(target=self._finish)
            self.finisher.start()
            # done by now on PostgreSQL; on SQLite the claim's write lock holds the release back until it ends
            self.finisher.join(timeout=1.0)

    def _finish(self) -> None:
        try:
            self.active += MIB
            asyncio.run(self.quotas().release(self.holder, None))
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)


def test_an_upload_finishing_between_a_claims_reads_is_counted(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = FinishingBetweenReads(lambda: quotas, "upload:first")
    quotas = QuotaService(services.db, DatabaseLimits(services.db), ledger)
    asyncio.run(quotas.set_limits(PROJECT, {Resource.IMAGE_SIZE_TOTAL: 1}))
    asyncio.run(quotas.claim(PROJECT, {Resource.IMAGE_SIZE_TOTAL: MIB}, holder="upload:first"))
    ledger.armed = True
    reserved = QuotaRepository.reserved

    def reading_reservations(repo: QuotaRepository, *args: Any, **kwargs: Any) -> dict[str, int]:
        found = reserved(repo, *args, **kwargs)
        ledger.read()
        return found

    monkeypatch.setattr(QuotaRepository, "reserved", reading_reservations)
    with pytest.raises(OverLimit):  # the first upload's MiB is counted, as reserved or as active
        asyncio.run(quotas.claim(PROJECT, {Resource.IMAGE_SIZE_TOTAL: MIB}, holder="upload:second"))
    assert ledger.reads == 2
    assert ledger.finisher is not None
    ledger.finisher.join(timeout=30)
    assert not ledger.finisher.is_alive()
    assert not ledger.errors, ledger.errors


def test_a_settled_claim_ends_with_the_commit_that_records_its_result(services: Services) -> None:
    quotas = services.images.quotas
    asyncio.run(quotas.set_limits(PROJECT, {Resource.IMAGE_SIZE_TOTAL: 1}))
    claim = asyncio.run(quotas.claim(PROJECT, {Resource.IMAGE_SIZE_TOTAL: MIB}, holder="upload:settled"))

    def rolled_back(session: Any) -> None:
        claim.settle(session)
        raise Refused("the image could not be activated")

    with pytest.raises(Refused):
        asyncio.run(services.db.run(rolled_back))
    assert claim.held == {Resource.IMAGE_SIZE_TOTAL: MIB}  # still held: nothing was recorded
    held = asyncio.run(services.db.run(lambda s: QuotaRepository(s).held("upload:settled")))
    assert held == {Resource.IMAGE_SIZE_TOTAL.value: MIB}

    asyncio.run(services.db.run(claim.settle))
    assert claim.held == {}
    assert asyncio.run(services.db.run(lambda s: QuotaRepository(s).held("upload:settled"))) == {}
    asyncio.run(quotas.claim(PROJECT, {Resource.IMAGE_SIZE_TOTAL: MIB}, holder="upload:next"))  # room again
