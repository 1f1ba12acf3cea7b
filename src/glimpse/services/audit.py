"""The audit log: every state-changing request and every refused one, in the database (and optionally as JSON
lines in a file), read by admins through ``GET /v2/audit``, removed after ``retention_days``.

The request path only appends the entry to an in-memory batch (no I/O: a list append); a writer task started
with the app writes the batch every :data:`FLUSH_INTERVAL` seconds with one multi-row INSERT (and one file
append), and whatever is left when the app stops. So a request pays nothing for its audit entry, and an entry
reaches the database within a fraction of a second; a process killed outright loses at most that fraction's
entries (docs/audit.md). No entry holds a request body, a query string or a header: never a token or a secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from glimpse.context import RequestContext
from glimpse.db import Database
from glimpse.db.repositories.audit import AuditRepository
from glimpse.domain.audit import AuditEntry, AuditQuery
from glimpse.domain.clock import isoformat, utcnow
from glimpse.errors import BadRequest, DatabaseUnavailable
from glimpse.policy import Policy
from glimpse.policy.engine import Target
from glimpse.settings import Settings

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.2  # seconds between the writer's batches
MAX_PENDING = 50_000  # entries held while the database is away; beyond, the oldest are dropped (and logged)
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
FILTERS = ("user_id", "project_id", "request_id", "method", "action", "target", "outcome")


def _when(name: str, value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"Invalid {name}: use an ISO 8601 time such as 2026-12-06T05:00:00Z") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def parse_query(params: Sequence[tuple[str, str]]) -> tuple[AuditQuery, int, str | None]:
    """``GET /v2/audit``'s query: the filters, the page size and the marker (400 for anything else)."""
    values: dict[str, Any] = {}
    limit, marker = DEFAULT_LIMIT, None
    for name, value in params:
        if name in FILTERS:
            values[name] = value
        elif name in ("since", "until"):
            values[name] = _when(name, value)
        elif name == "limit":
            if not value.isdigit():
                raise BadRequest("limit param must be an integer")
            limit = min(int(value), MAX_LIMIT)
        elif name == "marker":
            marker = value
        else:
            raise BadRequest(f"Unknown audit filter: {name[:40]}")
    return AuditQuery(**values), limit, marker


def as_json(entry: AuditEntry) -> dict[str, Any]:
    """An entry as the API and the file show it."""
    shown = asdict(entry)
    shown["roles"] = list(entry.roles)
    shown["created_at"] = entry.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return shown


class AuditLog:
    def __init__(self, settings: Settings, db: Database, policy: Policy) -> None:
        self.enabled = settings.audit_enabled
        self.file: Path | None = settings.audit_file
        self.retention_days = settings.audit_retention_days
        self.db = db
        self.policy = policy
        self._pending: list[AuditEntry] = []
        self.dropped = 0

    # -- the request path -----------------------------------------------------------------------------
    def record(self, entry: AuditEntry) -> None:
        """Keep ``entry`` for the writer's next batch (never blocks, never fails the request)."""
        if not self.enabled:
            return
        self._pending.append(entry)
        if len(self._pending) > MAX_PENDING:
            excess = len(self._pending) - MAX_PENDING
            del self._pending[:excess]
            self.dropped += excess
            log.error("audit: %d entries dropped: the database has not taken a batch for too long", excess)

    # -- the writer -----------------------------------------------------------------------------------
    async def flush(self) -> int:
        """Write what is pending (one INSERT, one file append); how many entries were written."""
        batch, self._pending = self._pending, []
        if not batch:
            return 0
        try:
            await self.db.run(lambda s: AuditRepository(s).add_many(batch))
        except DatabaseUnavailable as exc:
            self._pending[:0] = batch  # kept, in order, for the next try
            log.warning("audit: %d entries wait for the database: %s", len(batch), exc.message)
            return 0
        if self.file is not None:
            lines = "".join(json.dumps(as_json(entry), separators=(",", ":")) + "\n" for entry in batch)
            try:
                await asyncio.to_thread(_append, self.file, lines)
            except OSError as exc:
                log.error("audit: could not append to %s: %s", self.file, exc)
        return len(batch)

    async def run(self, stop: asyncio.Event) -> None:
        """The writer: a batch every FLUSH_INTERVAL seconds until ``stop``, then the rest."""
        if not self.enabled:
            return
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), FLUSH_INTERVAL)
            try:
                await self.flush()
            except Exception:
                log.exception("audit: writing a batch failed; retrying")
        await self.flush()

    # -- reading and retention ------------------------------------------------------------------------
    async def search(
        self, ctx: RequestContext, params: Sequence[tuple[str, str]]
    ) -> tuple[list[AuditEntry], str | None, int]:
        """The entries matching the query, newest first; the next page's marker (if the page was full)."""
        self.policy.enforce(ctx, "get_audit_log", Target(project_id=ctx.project_id))
        query, limit, marker = parse_query(params)
        await self.flush()  # what this process holds is part of the answer

        def work(session: Any) -> list[AuditEntry]:
            repo = AuditRepository(session)
            if marker is not None and not repo.exists(marker):
                raise BadRequest(f"Invalid marker: audit entry {marker} not found")
            return repo.search(query, limit, marker)

        entries = await self.db.run(work)
        following = entries[-1].id if entries and len(entries) == limit else None
        return entries, following, limit

    async def purge(self) -> int:
        """The worker's sweep: remove entries older than ``retention_days`` (0: keep everything)."""
        if not self.retention_days:
            return 0
        before = utcnow() - timedelta(days=self.retention_days)
        removed = await self.db.run(lambda s: AuditRepository(s).purge(before))
        if removed:
            log.info("audit: %d entries older than %s removed", removed, isoformat(before))
        return removed


def _append(path: Path, lines: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(lines)
