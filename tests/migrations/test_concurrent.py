"""Several nodes starting at once on one new PostgreSQL database each migrate it: one does, the rest find it done."""

from __future__ import annotations

import os
import subprocess

import pytest

from glimpse.db.migrate import current_revision, drift, head_revision
from tests.serverproc import GLIMPSE, backend, new_pg_database

pytestmark = pytest.mark.skipif(
    backend() != "postgresql", reason="the migration lock is PostgreSQL's advisory lock: GLIMPSE_TEST_DB=postgresql"
)


def test_three_upgrades_at_once_on_a_new_database() -> None:
    with new_pg_database("glimpse_migrate_race") as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GLIMPSE_", "OS_"))}
        env["GLIMPSE_DATABASE_URL"] = url
        upgrades = [
            subprocess.Popen([GLIMPSE, "db", "upgrade"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for _ in range(3)
        ]
        try:
            # without the lock, all but one failed (a duplicate table, or a unique violation in pg_type) or hung
            outputs = [upgrade.communicate(timeout=60)[0].decode(errors="replace") for upgrade in upgrades]
        finally:
            for upgrade in upgrades:
                upgrade.kill()
                upgrade.wait()
        assert [upgrade.returncode for upgrade in upgrades] == [0, 0, 0], "\n".join(outputs)
        assert current_revision(url) == head_revision()
        assert drift(url) == []
