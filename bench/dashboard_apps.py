"""Applications page benchmark: server time of `GET /dashboard/apps` over 10,000 local artifacts, p50/p95.

    .venv/bin/python bench/dashboard_apps.py                      # SQLite in a temp dir, 10,000 artifacts
    .venv/bin/python bench/dashboard_apps.py --count 2000 --requests 100
    .venv/bin/python bench/dashboard_apps.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/NAME

Seeds heat templates of one project through the artifact service (name ``app-<i>``, tags ``t<i % 10>``), runs
ANALYZE, signs in (noauth) and times each request in process (the ASGI app called directly: session, authentication, the
service's list, rendering; no network): the first page, a search, a type filter, a tag filter and a page
further on, in turn. The remote catalog's 1,000 assets are not part of this run (they need a TUF-signed catalog
served over TLS; tests/functional/dashboard/test_remote.py drives that path). Target: p95 under 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import text
from starlette.testclient import TestClient

from glimpse.app import create_app
from glimpse.container import build_services
from glimpse.context import RequestContext
from glimpse.db.migrate import upgrade
from glimpse.settings import load_settings

CTX = RequestContext(user_id="bench", project_id="bench", roles=frozenset({"member", "reader"}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=250)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="glimpse-dashboard-bench-"))
    url = args.database_url or f"sqlite:///{tmp / 'glimpse.db'}"
    upgrade(url)
    settings = load_settings(env={}, data_dir=tmp / "data", database_url=url, auth="noauth", worker_in_process=False)
    services = build_services(settings)

    async def seed() -> None:
        for i in range(args.count):
            await services.artifacts.create(CTX, "heat_templates", {"name": f"app-{i}", "tags": [f"t{i % 10}"]})

    started = time.perf_counter()
    asyncio.run(seed())
    seeded = time.perf_counter() - started
    # fresh statistics, as autovacuum (PostgreSQL) would have them for a table that grew by 10,000 rows: without
    # them PostgreSQL planned the tag filter blind (0.9 s a request)
    with services.db.engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    try:
        with TestClient(create_app(settings, services), base_url="https://testserver") as client:
            form = client.get("/dashboard/login").text
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
            assert csrf is not None
            client.post("/dashboard/login", data={"csrf_token": csrf.group(1), "username": "bench", "project": "bench"})
            first = client.get("/dashboard/apps?source=local").text
            marker = re.search(r"marker=([0-9a-f-]{36})", first)
            queries = [
                "/dashboard/apps",
                "/dashboard/apps?q=app-99",
                "/dashboard/apps?type=heat_templates",
                "/dashboard/apps?tag=t3",
                f"/dashboard/apps?marker={marker.group(1) if marker else ''}",
            ]
            times: list[float] = []
            per_query: dict[str, list[float]] = {query: [] for query in queries}
            for n in range(args.requests):
                query = queries[n % len(queries)]
                began = time.perf_counter()
                response = client.get(query)
                times.append((time.perf_counter() - began) * 1000)
                per_query[query].append(times[-1])
                assert response.status_code == 200, response.text[:500]
    finally:
        services.close()
    times.sort()
    result = {
        "artifacts": args.count, "requests": args.requests, "seed_seconds": round(seeded, 1),
        "database": url.split(":", 1)[0], "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 1), "max_ms": round(times[-1], 1),
        "median_ms_by_query": {query.split("?", 1)[-1] if "?" in query else "first page":
                               round(statistics.median(spent), 1) for query, spent in per_query.items()},
    }  # fmt: skip
    print(json.dumps(result))
    out = Path(__file__).parent / "results" / "dashboard-apps-latest.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
