"""Image list at scale: p50/p99 of every list shape over N images loaded directly into PostgreSQL or SQLite.

    .venv/bin/python bench/scale.py --count 100000                 # load (once) and measure
    .venv/bin/python bench/scale.py --count 100000 --runs 100      # more samples
    .venv/bin/python bench/scale.py --count 100000 --explain       # also EXPLAIN ANALYZE the slowest shape
    .venv/bin/python bench/scale.py --count 100000 --drop          # drop the database at the end
    .venv/bin/python bench/scale.py --count 10000 --runs 5 --drop --results .venv/scale-smoke.json   # CI's smoke run
    .venv/bin/python bench/scale.py --count 100000 --database sqlite   # the same rows in a SQLite file
    .venv/bin/python bench/scale.py --count 100000 --replica      # the same lists on the streaming replica

The database ``glimpse_scale_<count>`` on 127.0.0.1:5432 (user postgres, trust auth) is migrated to head
(so a run after a new migration measures its indexes) and, when it holds no images, loaded with one
``INSERT ... SELECT generate_series`` per table: 1,000 projects, 90% private, 7% shared (three accepted
members each), 2% public, 1% community; 2% of names NULL; three properties, two tags (``tag-<i % 50>`` and
``kind-<i % 7>``) and one location per image; created one second apart. Kept between runs (loading 1M
takes minutes), so before/after figures come from the same rows. ``--database sqlite``: the same rows,
made in Python and inserted with executemany into a SQLite file in the temp directory (kept the same way).

``--replica`` measures on the streaming replica of ``scripts/pg-replica-up`` (127.0.0.1:5433, the primary's
whole cluster, so the same database) once it has replayed the load: what ``[database] slave_connection``
serves.

Each shape is the repository's list (``ImageRepository.list``, the statements a ``GET /v2/images`` runs,
without HTTP) in its own transaction, ``--runs`` times after two warm-up runs; "deep" is the page after
20 pages of 25 (the marker found by paging). Prints p50/p99 in ms and writes bench/results/scale-latest.json.
``--explain`` shows the plans of the shape with the highest p99, after its marker for a deep one.
"""

from __future__ import annotations

import argparse
import functools
import gc
import hashlib
import json
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import psycopg
from sqlalchemy import event
from sqlalchemy.orm import Session

from glimpse.context import RequestContext
from glimpse.db import migrate
from glimpse.db.engine import make_engine
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain.queries import parse_image_query

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results" / "scale-latest.json"
PG = "postgresql://postgres@127.0.0.1:5432/{db}"
REPLICA = "postgresql://postgres@127.0.0.1:5433/{db}"
SQLITE_DIR = Path(tempfile.gettempdir())
PAGE = 25
DEPTH = 20
ADMIN = RequestContext(user_id="admin", project_id="project-0", roles=frozenset({"admin", "member"}))
MEMBER = RequestContext(user_id="user", project_id="project-17", roles=frozenset({"member"}))
# project-17 is a member of no shared image (the load shares image i with projects i+1..i+3 when i % 100 is 3..9);
# project-7 is a member of the shared images i = 4, 5, 6 (mod 1,000): 0.3% of the catalogue
SHARED_WITH = RequestContext(user_id="user7", project_id="project-7", roles=frozenset({"member"}))

# (label, viewer, query string, deep): every list shape of issue 19's table
SHAPES: list[tuple[str, RequestContext, str, bool]] = [
    ("admin first page", ADMIN, "", False),
    ("admin 20 pages deep", ADMIN, "", True),
    ("member first page", MEMBER, "", False),
    ("member 20 pages deep", MEMBER, "", True),
    ("sort=name:asc,created_at:desc", ADMIN, "sort=name:asc,created_at:desc", False),
    ("sort=name:asc,created_at:desc deep", ADMIN, "sort=name:asc,created_at:desc", True),
    ("sort_key=name&sort_dir=asc deep", ADMIN, "sort_key=name&sort_dir=asc", True),
    ("member sort=name:asc", MEMBER, "sort_key=name&sort_dir=asc", False),
    ("member sort=name:asc deep", MEMBER, "sort_key=name&sort_dir=asc", True),
    ("shared-with member sort=name:asc", SHARED_WITH, "sort_key=name&sort_dir=asc", False),
    ("shared-with member sort=name:asc deep", SHARED_WITH, "sort_key=name&sort_dir=asc", True),
    ("tag=", ADMIN, "tag=tag-3", False),
    ("member + tag=", MEMBER, "tag=kind-3", False),
]

LOAD = [
    """INSERT INTO images (id, name, status, visibility, protected, os_hidden, min_disk, min_ram,
           container_format, disk_format, owner, size, virtual_size, checksum, os_hash_algo, os_hash_value,
           created_at, updated_at, deleted)
       SELECT md5('image' || i)::uuid::text,
              CASE WHEN i % 50 = 0 THEN NULL ELSE 'image-' || substr(md5('name' || i), 1, 12) END,
              'active',
              CASE WHEN i % 100 < 2 THEN 'public' WHEN i % 100 = 2 THEN 'community'
                   WHEN i % 100 < 10 THEN 'shared' ELSE 'private' END,
              false, false, 0, 0, 'bare', 'qcow2', 'project-' || (i % 1000), 1000000 + i, NULL,
              substr(md5('sum' || i), 1, 32), 'sha512', md5('hash' || i),
              timestamp '2026-01-01' + i * interval '1 second', timestamp '2026-01-01' + i * interval '1 second',
              false
       FROM generate_series(1, %(count)s) AS i""",
    """INSERT INTO image_properties (image_id, name, value)
       SELECT id, p.name, p.value || substr(id, 1, 1) FROM images,
              (VALUES ('os_distro', 'distro-'), ('os_version', 'v'), ('hw_disk_bus', 'bus-')) AS p(name, value)""",
    """INSERT INTO image_tags (image_id, value)
       SELECT md5('image' || i)::uuid::text, t FROM generate_series(1, %(count)s) AS i,
              LATERAL (VALUES ('tag-' || (i % 50)), ('kind-' || (i % 7))) AS v(t)""",
    """INSERT INTO image_members (image_id, member, status, created_at, updated_at)
       SELECT md5('image' || i)::uuid::text, 'project-' || ((i + k) % 1000), 'accepted',
              timestamp '2026-01-01', timestamp '2026-01-01'
       FROM generate_series(1, %(count)s) AS i, generate_series(1, 3) AS k
       WHERE i % 100 BETWEEN 3 AND 9""",
    """INSERT INTO image_locations (image_id, store, url, meta)
       SELECT id, 'file', 'file:///var/lib/glance/images/' || id, '{}' FROM images""",
]


def log(message: str = "") -> None:
    print(message, flush=True)


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def prepare(db: str, count: int) -> None:
    with psycopg.connect(PG.format(db="postgres"), autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone() is None:
            admin.execute(f'CREATE DATABASE "{db}"')
    migrate.upgrade(PG.format(db=db))
    with psycopg.connect(PG.format(db=db), autocommit=True) as conn:
        if conn.execute("SELECT count(*) FROM images").fetchone() != (0,):
            return
        log(f"loading {count:,} images ...")
        started = time.perf_counter()
        for statement in LOAD:
            conn.execute(statement.replace("%(count)s", str(int(count))).encode())
        conn.execute("VACUUM ANALYZE")
        log(f"loaded in {time.perf_counter() - started:.0f} s")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _sqlite_rows(count: int) -> Iterator[tuple[str, list[tuple[object, ...]]]]:
    """The PostgreSQL load's rows, made in Python: (table, rows) in batches, for executemany."""
    start, batch = datetime(2026, 1, 1), 20_000
    for first in range(1, count + 1, batch):
        images, properties, tags, members, locations = [], [], [], [], []
        for i in range(first, min(first + batch, count + 1)):
            image_id = str(uuid.UUID(_md5(f"image{i}")))
            at = (start + timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S.%f")
            share = i % 100
            visibility = "public" if share < 2 else "community" if share == 2 else "shared" if share < 10 else "private"
            name = None if i % 50 == 0 else "image-" + _md5(f"name{i}")[:12]
            images.append((image_id, name, "active", visibility, 0, 0, 0, 0, "bare", "qcow2", f"project-{i % 1000}",
                           1_000_000 + i, None, _md5(f"sum{i}"), "sha512", _md5(f"hash{i}"), at, at, 0))  # fmt: skip
            properties += [(image_id, key, value + image_id[0]) for key, value in
                           (("os_distro", "distro-"), ("os_version", "v"), ("hw_disk_bus", "bus-"))]  # fmt: skip
            tags += [(image_id, f"tag-{i % 50}"), (image_id, f"kind-{i % 7}")]
            if 3 <= share <= 9:
                members += [(image_id, f"project-{(i + k) % 1000}", "accepted", "2026-01-01 00:00:00.000000",
                             "2026-01-01 00:00:00.000000") for k in (1, 2, 3)]  # fmt: skip
            locations.append((image_id, "file", f"file:///var/lib/glance/images/{image_id}", "{}"))
        yield ("INSERT INTO images (id, name, status, visibility, protected, os_hidden, min_disk, min_ram, "
               "container_format, disk_format, owner, size, virtual_size, checksum, os_hash_algo, os_hash_value, "
               "created_at, updated_at, deleted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               images)  # fmt: skip
        yield "INSERT INTO image_properties (image_id, name, value) VALUES (?, ?, ?)", properties
        yield "INSERT INTO image_tags (image_id, value) VALUES (?, ?)", tags
        yield ("INSERT INTO image_members (image_id, member, status, created_at, updated_at) "
               "VALUES (?, ?, ?, ?, ?)", members)  # fmt: skip
        yield "INSERT INTO image_locations (image_id, store, url, meta) VALUES (?, ?, ?, ?)", locations


def prepare_sqlite(path: Path, count: int) -> str:
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    with sqlite3.connect(path) as conn:
        if conn.execute("SELECT count(*) FROM images").fetchone() != (0,):
            return url
        log(f"loading {count:,} images ...")
        started = time.perf_counter()
        for statement, rows in _sqlite_rows(count):
            conn.executemany(statement, rows)
        conn.commit()
        conn.execute("ANALYZE")
        log(f"loaded in {time.perf_counter() - started:.0f} s")
    return url


def replayed(db: str) -> str:
    """The replica's URL of ``db``, once the replica has replayed everything the primary has written."""
    with psycopg.connect(PG.format(db="postgres"), autocommit=True) as primary:
        row = primary.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    assert row is not None
    started = time.perf_counter()
    with psycopg.connect(REPLICA.format(db="postgres"), autocommit=True) as replica:
        while replica.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (row[0],)).fetchone() != (True,):
            time.sleep(0.1)
    log(f"the replica has replayed the load ({time.perf_counter() - started:.1f} s after it ended)")
    return REPLICA.format(db=db)


def timed(run: Callable[[], object], runs: int) -> dict[str, float]:
    for _ in range(2):
        run()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {"p50_ms": round(percentile(samples, 0.5), 2), "p99_ms": round(percentile(samples, 0.99), 2)}


def measure(url: str, runs: int) -> dict[str, dict[str, Any]]:
    engine = make_engine(url)
    # The first full collection of this process walks every object the imports made (126,000: 39 ms) and
    # landed in whichever sample came about 20 lists in: a once-a-process pause that was the p99 of one shape
    # in every run. Frozen here, as a server's start-up objects are long before its 20th request.
    gc.collect()
    gc.freeze()

    def list_page(viewer: RequestContext, query: str, marker: str | None) -> list[str]:
        params = [*parse_qsl(query), ("limit", str(PAGE))] + ([("marker", marker)] if marker else [])
        parsed = parse_image_query(params, default_limit=PAGE, max_limit=1000)
        with Session(engine) as session, session.begin():
            return [image.id for image in ImageRepository(session).list(viewer, parsed)]

    results: dict[str, dict[str, Any]] = {}
    for label, viewer, query, deep in SHAPES:
        marker, depth = None, 0
        page = list_page(viewer, query, marker)
        # "deep": the page after DEPTH full pages, or after as many as the caller has (a member sees about
        # 2% of the images: 200 at 10,000, so its list ends after 8 pages there)
        while deep and depth < DEPTH and len(page) == PAGE:
            following = list_page(viewer, query, page[-1])
            if not following:
                break
            marker, page, depth = page[-1], following, depth + 1
        assert page, f"{label}: an empty page"
        results[label] = {**timed(functools.partial(list_page, viewer, query, marker), runs), "pages_deep": depth}
        if marker is not None:
            results[label]["marker"] = marker
        log(f"{label:40} p50 {results[label]['p50_ms']:8.2f} ms   p99 {results[label]['p99_ms']:8.2f} ms"
            + (f"   ({depth} pages deep)" if deep else ""))  # fmt: skip
    engine.dispose()
    return results


def explain(url: str, label: str, marker: str | None = None) -> str:
    """EXPLAIN ANALYZE of the SELECTs one shape runs (each statement is also run for real), after ``marker``;
    on SQLite, EXPLAIN QUERY PLAN (no timings)."""
    viewer, query = next((v, q) for name, v, q, _ in SHAPES if name == label)
    engine = make_engine(url)
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
    params = [*parse_qsl(query), ("limit", str(PAGE))] + ([("marker", marker)] if marker else [])
    parsed = parse_image_query(params, default_limit=PAGE, max_limit=1000)
    plans: list[str] = []
    with Session(engine) as session, session.begin():

        @event.listens_for(engine, "before_cursor_execute", retval=True)
        def explained(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> Any:
            if statement.lstrip().upper().startswith(("SELECT", "(SELECT", "WITH")):
                cursor.execute(prefix + statement, parameters)
                plans.append("\n".join(str(row[-1]) for row in cursor.fetchall()))
            return statement, parameters

        ImageRepository(session).list(viewer, parsed)
    engine.dispose()
    return "\n\n".join(plans)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest shape's statements")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument("--results", type=Path, default=RESULTS, help=f"where the JSON goes (default {RESULTS})")
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--replica", action="store_true", help="measure on the replica of scripts/pg-replica-up")
    args = parser.parse_args()
    db = f"glimpse_scale_{args.count}"
    sqlite_file = SQLITE_DIR / f"{db}.sqlite"
    if args.database == "sqlite":
        url = prepare_sqlite(sqlite_file, args.count)
    else:
        prepare(db, args.count)
        url = replayed(db) if args.replica else PG.format(db=db)
    load_before = os.getloadavg()[0]
    results = measure(url, args.runs)
    report: dict[str, Any] = {"database": args.database, "images": args.count, "runs": args.runs, "shapes": results}
    # the machine's 1-minute load average before and after measuring: figures are comparable at a similar load
    report["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    if args.replica:
        report["server"] = "replica"
    if args.explain:
        slowest = max(results, key=lambda label: results[label]["p99_ms"])
        report["explain"] = {"shape": slowest, "plan": explain(url, slowest, results[slowest].get("marker"))}
        log(f"\nEXPLAIN of {slowest}:\n{report['explain']['plan']}")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(report, indent=2) + "\n")
    if args.drop and args.database == "sqlite":
        sqlite_file.unlink(missing_ok=True)
    elif args.drop:
        with psycopg.connect(PG.format(db="postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db}"')
    return 0


if __name__ == "__main__":
    sys.exit(main())
