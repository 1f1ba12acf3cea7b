"""Health of the service's dependencies for /healthcheck: the database and every configured store.

The checks run concurrently, each bounded by a timeout, so a hung dependency turns into an error entry
instead of a hung health probe. Details shown to the (unauthenticated) caller are short and name no
paths or addresses; the full error goes to the log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from glimpse.db import Database
from glimpse.errors import GlimpseError
from glimpse.stores.registry import StoreRegistry

log = logging.getLogger(__name__)

CHECK_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class ComponentHealth:
    status: Literal["ok", "error"]
    duration_ms: float
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status, "duration_ms": self.duration_ms}
        if self.detail is not None:
            data["detail"] = self.detail
        return data


@dataclass(frozen=True, slots=True)
class HealthReport:
    database: ComponentHealth
    stores: dict[str, ComponentHealth]
    # the read replica, when one is configured: shown, never unhealthy (its reads go to the primary)
    replica: ComponentHealth | None = None

    @property
    def healthy(self) -> bool:
        return self.database.status == "ok" and all(store.status == "ok" for store in self.stores.values())

    def as_dict(self) -> dict[str, Any]:
        report = {
            "status": "ok" if self.healthy else "error",
            "database": self.database.as_dict(),
            "stores": {store_id: health.as_dict() for store_id, health in self.stores.items()},
        }
        if self.replica is not None:
            report["replica"] = self.replica.as_dict()
        return report


class HealthService:
    def __init__(self, db: Database, stores: StoreRegistry, timeout: float = CHECK_TIMEOUT) -> None:
        self.db = db
        self.stores = stores
        self.timeout = timeout

    async def check(self) -> HealthReport:
        stores = list(self.stores)
        replica = self.db.check_replica if self.db.replica is not None else None
        results = await asyncio.gather(
            self._probe("database", self.db.check),
            *(self._probe(f"store {store.id}", store.check) for store in stores),
            *([self._probe("read replica", replica)] if replica is not None else []),
        )
        return HealthReport(
            database=results[0],
            stores={s.id: r for s, r in zip(stores, results[1 : len(stores) + 1], strict=True)},
            replica=results[-1] if replica is not None else None,
        )

    async def _probe(self, name: str, check: Callable[[], Awaitable[None]]) -> ComponentHealth:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(check(), self.timeout)
        except TimeoutError:
            detail = cause = f"no answer within {self.timeout:g}s"
        except GlimpseError as exc:  # the domain's messages are written for clients
            detail = cause = exc.message
        except Exception as exc:
            detail, cause = f"check failed ({type(exc).__name__})", str(exc)
        else:
            return ComponentHealth("ok", _ms_since(started))
        log.warning("health check of %s failed: %s", name, cause)
        return ComponentHealth("error", _ms_since(started), detail)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
