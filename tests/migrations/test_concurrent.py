"""Several nodes (or a server and its workers) starting at once on one new database each migrate it: one does,
the rest find it done. PostgreSQL serialises them with an advisory lock, SQLite with a lock file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from glimpse.db.migrate import current_revision, drift, head_revision
from tests.serverproc import GLIMPSE, new_database


def test_three_upgrades_at_once_on_a_new_database(tmp_path: Path) -> None:
    with new_database(tmp_path, prefix="glimpse_migrate_race") as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GLIMPSE_", "OS_"))}
        env["GLIMPSE_DATABASE_URL"] = url
        upgrades = [
            subprocess.Popen([GLIMPSE, "db", "upgrade"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for _ in range(3)
        ]
        try:
            # without the lock, all but one failed (a duplicate table, or a unique violation in pg_type) or hung;
            # on SQLite without its lock file: "table images already exists"
            outputs = [upgrade.communicate(timeout=60)[0].decode(errors="replace") for upgrade in upgrades]
        finally:
            for upgrade in upgrades:
                upgrade.kill()
                upgrade.wait()
        assert [upgrade.returncode for upgrade in upgrades] == [0, 0, 0], "\n".join(outputs)
        assert current_revision(url) == head_revision()
        assert drift(url) == []
