"""glimpse.services.quotas on a real database: a claim made for a task is released when the transaction that
records the task fails, and keeps (or drops) what the committed task holds."""

from __future__ import annotations

import asyncio

import pytest

from glimpse.container import Services
from glimpse.domain.quotas import Resource
from glimpse.errors import OverLimit

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
