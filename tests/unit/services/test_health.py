"""glimpse.services.health: every part checked at once, each bounded, details safe to show."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from glimpse.errors import StoreError
from glimpse.services.health import HealthService
from glimpse.stores.memory import MemoryStore
from glimpse.stores.registry import StoreRegistry


class FakeDatabase:
    replica = None  # no read replica configured

    def __init__(self, error: BaseException | None = None, delay: float = 0.0) -> None:
        self.error = error
        self.delay = delay

    async def check(self) -> None:
        await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error


class BrokenStore(MemoryStore):
    async def check(self) -> None:
        raise RuntimeError("driver bug at /secret/path")


def service(db: FakeDatabase, *stores: MemoryStore, timeout: float = 1.0) -> HealthService:
    registry = StoreRegistry({store.id: store for store in stores}, stores[0].id)
    db_any: Any = db
    return HealthService(db_any, registry, timeout=timeout)


def test_all_healthy() -> None:
    report = asyncio.run(service(FakeDatabase(), MemoryStore("a"), MemoryStore("b")).check())
    assert report.healthy
    body = report.as_dict()
    assert body["status"] == "ok"
    assert list(body["stores"]) == ["a", "b"]


def test_unexpected_errors_show_only_their_kind(caplog: pytest.LogCaptureFixture) -> None:
    report = asyncio.run(service(FakeDatabase(OSError("at 10.1.2.3")), BrokenStore("x")).check())
    assert not report.healthy
    body = report.as_dict()
    assert body["database"]["detail"] == "check failed (OSError)"
    assert body["stores"]["x"]["detail"] == "check failed (RuntimeError)"
    assert "10.1.2.3" not in str(body)
    assert "/secret/path" not in str(body)
    assert "/secret/path" in caplog.text  # the operator still sees the cause


def test_domain_errors_show_their_message() -> None:
    store = MemoryStore("m")
    store.failure = "maintenance"
    report = asyncio.run(service(FakeDatabase(StoreError("x")), store).check())
    assert report.stores["m"].detail == "Store m is unavailable: maintenance"
    assert report.database.detail == "x"


def test_checks_run_concurrently_and_time_out() -> None:
    slow = FakeDatabase(delay=5.0)
    report, seconds = asyncio.run(_timed(service(slow, MemoryStore("m"), timeout=0.1)))
    assert seconds < 2.0
    assert report.database.status == "error"
    assert report.database.detail == "no answer within 0.1s"
    assert report.stores["m"].status == "ok"


async def _timed(health: HealthService) -> tuple[Any, float]:
    loop = asyncio.get_running_loop()
    begin = loop.time()
    report = await health.check()
    return report, loop.time() - begin
