"""metadef_records_per_project holds under concurrent creates: the count and the insert of one project's
records never interleave (PostgreSQL advisory lock, SQLite's write lock), on the database under test."""

from __future__ import annotations

import asyncio
from pathlib import Path

from glimpse.container import build_services
from glimpse.context import RequestContext
from glimpse.errors import TooLarge
from glimpse.settings import load_settings

ADMIN = RequestContext(user_id="admin", project_id="admin", roles=frozenset({"admin", "member", "reader"}))


def test_concurrent_creates_never_pass_the_cap(tmp_path: Path, clean_db: str) -> None:
    settings = load_settings(env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="noauth",
                             metadef_records_per_project=5)  # fmt: skip
    services = build_services(settings)
    md = services.metadefs

    async def scenario() -> list[BaseException | object]:
        await md.namespaces.create(ADMIN, {"namespace": "Capped"})
        creates = [md.objects.create(ADMIN, "Capped", {"name": f"o{i}"}) for i in range(6)]
        creates += [md.tags.create(ADMIN, "Capped", f"t{i}") for i in range(6)]
        return await asyncio.gather(*creates, return_exceptions=True)

    try:
        outcomes = asyncio.run(scenario())
        refused = [o for o in outcomes if isinstance(o, BaseException)]
        assert all(isinstance(o, TooLarge) for o in refused), refused
        assert len(outcomes) - len(refused) == 5

        async def held() -> int:
            detail = await md.namespaces.show(ADMIN, "Capped", None)
            return len(detail.objects) + len(detail.tags)

        assert asyncio.run(held()) == 5
    finally:
        services.close()
