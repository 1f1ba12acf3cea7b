"""Refresh of a signed catalog of N assets (default 10,000) over real TLS: time and peak memory.

    .venv/bin/python bench/catalog_refresh.py [--assets 10000]

Builds a catalog with N small assets (the targets written straight into the draft, not N `catalog add`
calls), serves it over TLS on 127.0.0.1, and times a first refresh (TUF verification of root, timestamp,
snapshot and the N-target targets metadata, then the index written to a SQLite database) in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.tls import make_certificates
from tests.webserver import serving_directory_tls

from benchlib.catalog import build_catalog
from glimpse.db.migrate import upgrade
from glimpse.policy import Policy
from glimpse.services.catalog.subscribe import CatalogService
from glimpse.services.task_queue import TaskQueue
from glimpse.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assets", type=int, default=10_000)
    count = parser.parse_args().assets
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        repo = build_catalog(root / "catalog", count)
        size = sum(p.stat().st_size for p in repo.metadata_dir.glob("*.targets.json"))
        certs = make_certificates(root, ["localhost"])
        with serving_directory_tls(repo.dir / "repository", certs.cert, certs.key) as url:
            db = f"sqlite:///{root / 'glimpse.db'}"
            upgrade(db)
            settings = load_settings(env={}, data_dir=root / "data", database_url=db, auth="noauth",
                                     catalog_remotes={"pub": url},
                                     catalog_trusted_roots={"pub": str(repo.metadata_dir / "1.root.json")},
                                     catalog_test_ca_file=certs.ca, catalog_allowed_hosts=["localhost"])  # fmt: skip
            from glimpse.db import Database

            database = Database(db)
            service = CatalogService(settings, database, Policy.from_settings(settings), TaskQueue(database))
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            started = time.perf_counter()
            [report] = asyncio.run(service.refresh())
            seconds = time.perf_counter() - started
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            database.dispose()
    assert report.ok, report.message
    print(
        f"refresh of {report.assets} assets ({size / 1e6:.1f} MB of targets metadata): {seconds:.2f} s, "
        f"peak RSS {peak / 1024:.0f} MiB (+{(peak - before) / 1024:.0f} MiB during the refresh)"
    )


if __name__ == "__main__":
    main()
