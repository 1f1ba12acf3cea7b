"""Applications page benchmark: server time of `GET /dashboard/apps` over 10,000 local assets and a subscribed remote
catalog of 1,000, p50/p95/p99, on SQLite or PostgreSQL.

    .venv/bin/python bench/dashboard_apps.py                                  # SQLite, 10,000 + 1,000, 30 rounds
    .venv/bin/python bench/dashboard_apps.py --database postgresql            # a fresh database on 127.0.0.1:5432
    .venv/bin/python bench/dashboard_apps.py --local 2000 --remote 200 --rounds 10

Seeds the local assets (artifacts of one project, the five enabled types in turn, named ``app-<i>``, tagged
``t<i % 10>``): one artifact of each type is created through the artifact service and its rows (artifact,
properties, tags) copied with new ids, names, tags and times in batches, which writes what 10,000 creates would
in seconds instead of minutes; then ANALYZE, as a live database has statistics. The remote catalog is a real
TUF-signed catalog of ``--remote`` assets (four asset types in turn, bulk-generated into the draft and signed
by one publish: benchlib/catalog.py), served over TLS with a local CA and refreshed once through the catalog
service. Then it starts `glimpse serve` (noauth, the worker not in process) on that database and data
directory, signs in through the sign-in form and, in ``--rounds`` rounds, requests each page of QUERIES once, one
after another on one keep-alive connection: the mixed list (source=all), each source alone, a search, a type
and a tag filter, and a deep page of each source.

Per request: the server's own time (the access line's duration, matched by request id), the client's time
(httpx, loopback), and the CPU the server process used (utime+stime from /proc; 10 ms ticks, so only the mean
over many requests means something) plus, on PostgreSQL, the CPU of the server's database backends. The load
average is recorded before and after. Writes its figures under its database's key in
bench/results/dashboard-apps-latest.json (``--output``), keeping the other database's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.tls import make_certificates
from tests.webserver import serving_directory_tls

from benchlib.catalog import build_catalog
from benchlib.database import Database
from benchlib.machine import git_commit
from benchlib.server import ServerProcess, cpu_seconds, process_tree, wait_ready
from glimpse.container import build_services
from glimpse.context import RequestContext
from glimpse.db.migrate import upgrade
from glimpse.db.models import Base
from glimpse.settings import load_settings

PROJECT = "bench"
CTX = RequestContext(user_id="bench", project_id=PROJECT, roles=frozenset({"member", "reader"}))
LOCAL_TYPES = ("heat_templates", "heat_environments", "murano_packages", "tosca_templates", "images")
REMOTE_KINDS = ("heat-template", "image", "murano-package", "heat-environment")
BATCH = 1000
QUERIES = {
    "all": "/dashboard/apps",
    "local": "/dashboard/apps?source=local",
    "remote": "/dashboard/apps?source=remote",
    "search": "/dashboard/apps?q=0099",
    "type": "/dashboard/apps?type=heat_templates",
    "tag": "/dashboard/apps?tag=t3",
    "local deep": "/dashboard/apps?source=local&marker={local_marker}",
    "remote deep": "/dashboard/apps?source=remote&remote_marker={remote_marker}",
}
ACCESS = re.compile(r" (\d+(?:\.\d+)?)ms request_id=(\S+)")


def percentile(values: list[float], q: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": round(percentile(values, 0.50), 1), "p95": round(percentile(values, 0.95), 1),
            "p99": round(percentile(values, 0.99), 1), "max": round(max(values), 1)}  # fmt: skip


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# -- seeding ---------------------------------------------------------------------------------------------------
async def seed_local(services: Any, count: int) -> str:
    """``count`` artifacts of PROJECT; returns the id of the 1,000th newest (a marker for a deep page)."""
    templates = [await services.artifacts.create(CTX, kind, {"name": f"template-{kind}"}) for kind in LOCAL_TYPES]
    tables = Base.metadata.tables
    artifacts, props, tags = tables["artifacts"], tables["artifact_properties"], tables["artifact_tags"]
    start = datetime(2026, 1, 1)
    with services.db.engine.begin() as conn:
        rows = {t["id"]: dict(conn.execute(select(artifacts).where(artifacts.c.id == t["id"])).mappings().one())
                for t in templates}  # fmt: skip
        properties = {
            t["id"]: [{k: v for k, v in p.items() if k != "id"}
                      for p in conn.execute(select(props).where(props.c.artifact_id == t["id"])).mappings()]
            for t in templates
        }  # fmt: skip
        for table in (props, tags, artifacts):
            column = table.c.id if table is artifacts else table.c.artifact_id
            conn.execute(table.delete().where(column.in_(list(rows))))
    order = list(rows)
    for first in range(0, count, BATCH):
        new_rows: list[dict[str, Any]] = []
        new_props: list[dict[str, Any]] = []
        new_tags: list[dict[str, Any]] = []
        for i in range(first, min(count, first + BATCH)):
            template = order[i % len(order)]
            artifact_id = str(uuid.uuid4())
            when = start + timedelta(seconds=i)
            new_rows.append({**rows[template], "id": artifact_id, "name": f"app-{i:05d}", "created_at": when,
                             "updated_at": when, "description": f"benchmark application {i}"})  # fmt: skip
            new_props.extend({**p, "artifact_id": artifact_id} for p in properties[template])
            new_tags.append({"artifact_id": artifact_id, "value": f"t{i % 10}"})
        with services.db.engine.begin() as conn:
            conn.execute(insert(artifacts), new_rows)
            if new_props:
                conn.execute(insert(props), new_props)
            conn.execute(insert(tags), new_tags)
    with services.db.engine.begin() as conn:
        marker = conn.execute(
            select(artifacts.c.id).order_by(artifacts.c.updated_at.desc()).offset(min(999, count - 1)).limit(1)
        ).scalar_one()
        conn.execute(text("ANALYZE"))
    return str(marker)


@contextmanager
def remote_catalog(root: Path, count: int) -> Iterator[dict[str, str]]:
    """A TUF catalog of ``count`` assets served over TLS; yields the server's catalog settings (environment)."""
    repo = build_catalog(root / "catalog", count, REMOTE_KINDS)
    certs = make_certificates(root, ["localhost"])
    with serving_directory_tls(repo.dir / "repository", certs.cert, certs.key) as url:
        yield {
            "GLIMPSE_CATALOG_REMOTES": f"pub={url}",
            "GLIMPSE_CATALOG_TRUSTED_ROOTS": f"pub={repo.metadata_dir / '1.root.json'}",
            "GLIMPSE_CATALOG_TEST_CA_FILE": str(certs.ca),
            "GLIMPSE_CATALOG_ALLOWED_HOSTS": "localhost",
        }


# -- measuring -------------------------------------------------------------------------------------------------
def backend_pids(engine: Any, database: str) -> list[int]:
    """The server's PostgreSQL backends (every connection to the run's database but the one asking)."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid()"),
                            {"db": database})  # fmt: skip
        return [int(row[0]) for row in rows]


def cpu_of(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) or 0.0 for pid in pids)


def sign_in(client: httpx.Client) -> None:
    form = client.get("/dashboard/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf is not None, form[:500]
    done = client.post(
        "/dashboard/login",
        data={"csrf_token": csrf.group(1), "username": "bench", "project": PROJECT},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text[:500]


def measure(server: ServerProcess, queries: dict[str, str], rounds: int, pg: tuple[Any, str] | None
            ) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in queries}
    tree = process_tree(server.pid)
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=120) as client:
        sign_in(client)
        for path in queries.values():  # warm-up: templates compiled, caches and pools filled
            for _ in range(2):
                client.get(path).raise_for_status()
        for _ in range(rounds):
            backends = backend_pids(*pg) if pg else []
            for name, path in queries.items():
                cpu, db_cpu = cpu_of(tree), cpu_of(backends)
                began = time.perf_counter()
                response = client.get(path)
                spent = time.perf_counter() - began
                assert response.status_code == 200, response.text[:500]
                samples[name].append({
                    "client_ms": spent * 1000, "cpu_ms": (cpu_of(tree) - cpu) * 1000,
                    "db_cpu_ms": (cpu_of(backends) - db_cpu) * 1000,
                    "request_id": response.headers["x-openstack-request-id"],
                    "rows": response.text.count('<td data-label="Name">'),
                })  # fmt: skip
    return samples


def server_times(log: Path) -> dict[str, float]:
    """request id -> the access line's duration (ms)."""
    found: dict[str, float] = {}
    for line in log.read_text(errors="replace").splitlines():
        match = ACCESS.search(line)
        if match:
            found[match.group(2)] = float(match.group(1))
    return found


def report(samples: dict[str, list[dict[str, Any]]], durations: dict[str, float], paths: dict[str, str]
           ) -> dict[str, Any]:  # fmt: skip
    every: list[float] = []
    every_client: list[float] = []
    queries: dict[str, Any] = {}
    for name, items in samples.items():
        server = [durations[item["request_id"]] for item in items]
        client = [item["client_ms"] for item in items]
        every += server
        every_client += client
        queries[name] = {
            "path": paths[name], "server_ms": summary(server),
            "client_ms": summary(client), "cpu_ms_mean": round(statistics.fmean(i["cpu_ms"] for i in items), 1),
            "db_cpu_ms_mean": round(statistics.fmean(i["db_cpu_ms"] for i in items), 1), "rows": items[0]["rows"],
        }  # fmt: skip
    cpu = [i["cpu_ms"] for items in samples.values() for i in items]
    db_cpu = [i["db_cpu_ms"] for items in samples.values() for i in items]
    return {"server_ms": summary(every), "client_ms": summary(every_client),
            "cpu_ms_per_request": round(statistics.fmean(cpu), 1),
            "db_cpu_ms_per_request": round(statistics.fmean(db_cpu), 1), "queries": queries}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--local", type=int, default=10_000)
    parser.add_argument("--remote", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=30, help="each page of QUERIES once per round")
    parser.add_argument("--glimpse", type=Path, default=Path(sys.executable).parent / "glimpse")
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "dashboard-apps-latest.json")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="glimpse-dashboard-bench-"))
    database: Database | None = None
    try:
        if args.database == "postgresql":
            database = Database(args.pg_admin_url.replace("+psycopg", ""), prefix="glimpse_apps")
            url = database.url.replace("postgresql://", "postgresql+psycopg://", 1)
        else:
            url = f"sqlite:///{tmp / 'glimpse.db'}"
        upgrade(url)
        with ExitStack() as stack:
            env = {"GLIMPSE_DATABASE_URL": url, "GLIMPSE_WORKER_IN_PROCESS": "false",
                   "GLIMPSE_DASHBOARD_COOKIE_SECURE": "false", "GLIMPSE_LOG_FORMAT": "text"}  # fmt: skip
            if args.remote:
                env.update(stack.enter_context(remote_catalog(tmp, args.remote)))
            settings = load_settings(env={**env, "GLIMPSE_DATA_DIR": str(tmp / "data"), "GLIMPSE_AUTH": "noauth"})
            services = build_services(settings)
            started = time.perf_counter()
            try:
                marker = asyncio.run(seed_local(services, args.local))
                if args.remote:
                    [refreshed] = asyncio.run(services.catalog.refresh())
                    assert refreshed.ok, refreshed
                    assert refreshed.assets == args.remote, refreshed
                with services.db.engine.begin() as conn:
                    conn.execute(text("ANALYZE"))
            finally:
                services.close()
            seeded = time.perf_counter() - started
            queries = {name: path.format(local_marker=marker, remote_marker=max(0, args.remote - 100))
                       for name, path in QUERIES.items()}  # fmt: skip
            server = ServerProcess(args.glimpse, tmp / "data", tmp / "server.log", env)
            try:
                wait_ready(server.endpoint, 60, server.process)
                pg = None
                if database is not None:
                    from sqlalchemy import create_engine

                    pg = (stack.enter_context(_disposing(create_engine(url))), database.name)
                load_before = loadavg()
                began = time.perf_counter()
                samples = measure(server, queries, args.rounds, pg)
                measured = time.perf_counter() - began
                load_after = loadavg()
            finally:
                server.stop()
            durations = server_times(tmp / "server.log")
        result = {
            "database": args.database, "local_assets": args.local, "remote_assets": args.remote,
            "rounds": args.rounds, "requests": args.rounds * len(queries), "seed_seconds": round(seeded, 1),
            "measure_seconds": round(measured, 1), "loadavg_before": load_before, "loadavg_after": load_after,
            "cpus": os.cpu_count(), "commit": git_commit(), "target_p95_ms": 100, **report(samples, durations, queries),
        }  # fmt: skip
    finally:
        if database is not None:
            database.drop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result, indent=2))
    # one file for both databases: this run replaces its own database's entry
    try:
        saved = json.loads(args.output.read_text())
    except (OSError, ValueError):
        saved = {}
    if not isinstance(saved, dict) or not set(saved) <= {"sqlite", "postgresql"}:
        saved = {}
    args.output.write_text(json.dumps({**saved, args.database: result}, indent=2) + "\n")
    return 0


@contextmanager
def _disposing(engine: Any) -> Iterator[Any]:
    try:
        yield engine
    finally:
        engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
