"""Audit batches are written once: a batch tried again after a commit that was not acknowledged (the
connection dropped after COMMIT) skips the entries already there and writes the rest."""

from __future__ import annotations

from glimpse.container import Services
from glimpse.db.repositories.audit import AuditRepository
from glimpse.domain.audit import AuditEntry, AuditQuery
from glimpse.domain.clock import utcnow
from glimpse.domain.images import new_id


def _entry(n: int) -> AuditEntry:
    return AuditEntry(id=new_id(), created_at=utcnow(), request_id=f"req-{n}", user_id="alice", project_id="alpha",
                      roles=("member",), method="POST", action="POST /v2/images", path="/v2/images", target=None,
                      status=201, outcome="success")  # fmt: skip


def test_a_batch_written_again_keeps_one_row_per_entry(services: Services) -> None:
    first = [_entry(1), _entry(2)]
    services.db.run_sync(lambda s: AuditRepository(s).add_many(first))
    again = [*first, _entry(3)]  # the same entries, and one recorded since
    services.db.run_sync(lambda s: AuditRepository(s).add_many(again))
    found = services.db.run_sync(lambda s: AuditRepository(s).search(AuditQuery(project_id="alpha"), limit=10))
    assert sorted(entry.request_id for entry in found) == ["req-1", "req-2", "req-3"]
