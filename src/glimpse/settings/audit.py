"""The audit log: who changed or was refused what (docs/audit.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field

from glimpse.settings.sources import Env, Ini


class AuditGroup(BaseModel):
    """Settings' fields for the audit log."""

    # every state-changing request and every refused one (401, 403) in the database, read by GET /v2/audit
    audit_enabled: Annotated[bool, Ini("audit", "enabled"), Env("GLIMPSE_AUDIT_ENABLED")] = True
    # also as JSON lines appended to this file (for a SIEM); none: the database only
    audit_file: Annotated[Path | None, Ini("audit", "file"), Env("GLIMPSE_AUDIT_FILE")] = None
    # days an entry is kept in the database (the worker removes older ones hourly); 0: forever
    audit_retention_days: Annotated[int, Ini("audit", "retention_days")] = Field(default=90, ge=0)
