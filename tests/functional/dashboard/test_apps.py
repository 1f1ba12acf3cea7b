"""The Applications pages: local artifacts of every enabled type (plain images without artifacts) with search,
type and tag filters and paging; the remote source says when no catalog is configured; asset detail. Launching
and Running Apps: test_stacks.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from glimpse.container import Services, build_services
from glimpse.context import RequestContext
from glimpse.settings import Settings, load_settings
from tests.functional.dashboard.conftest import Browser, browser_for

ALPHA = RequestContext(user_id="alice", project_id="alpha", roles=frozenset({"member", "reader"}))
BETA = RequestContext(user_id="bob", project_id="beta", roles=frozenset({"member", "reader"}))


def artifact(web: TestClient, services: Services, type_name: str, ctx: RequestContext = ALPHA,
             **body: Any) -> dict[str, Any]:  # fmt: skip
    created: dict[str, Any] = web.portal.call(services.artifacts.create, ctx, type_name, body)  # type: ignore[union-attr]
    return created


def rows(page: str) -> int:
    return page.count('<td data-label="Name">')


def test_local_artifacts_of_every_type(web: TestClient, services: Services, alice: Browser) -> None:
    artifact(web, services, "heat_templates", name="wordpress", version="1.0.0", tags=["web", "php"],
             description="A blog")  # fmt: skip
    artifact(web, services, "heat_templates", name="wordpress", version="2.0.0", tags=["web"])
    artifact(web, services, "murano_packages", name="apache", tags=["web"])
    artifact(web, services, "tosca_templates", name="database", tags=["db"])
    artifact(web, services, "heat_templates", BETA, name="beta-private")
    page = alice.get("/dashboard/apps").text
    assert rows(page) == 4
    assert "beta-private" not in page
    assert "No remote catalog is configured" in page
    assert rows(alice.get("/dashboard/apps?q=word").text) == 2
    assert rows(alice.get("/dashboard/apps?type=murano_packages").text) == 1
    assert rows(alice.get("/dashboard/apps?tag=db").text) == 1
    assert rows(alice.get("/dashboard/apps?tag=web&type=heat_templates&q=press").text) == 2
    only_remote = alice.get("/dashboard/apps?source=remote").text
    assert rows(only_remote) == 0
    assert "No remote catalog is configured" in only_remote


def test_paging(web: TestClient, services: Services, alice: Browser) -> None:
    for n in range(25):
        artifact(web, services, "heat_environments", name=f"env-{n:02d}")
    first = alice.get("/dashboard/apps?source=local")
    assert rows(first.text) == 20
    next_url = first.text.split('" rel="next"')[0].rsplit('href="', 1)[1].replace("&amp;", "&")
    second = alice.get(next_url)
    assert rows(second.text) == 5
    assert "First page" in second.text


def test_asset_detail_with_versions(web: TestClient, services: Services, alice: Browser) -> None:
    one = artifact(web, services, "heat_templates", name="lamp", version="1.0.0", description="<b>stack</b>",
                   metadata={"license": "Apache-2.0", "depends": "mysql@5.7"})  # fmt: skip
    artifact(web, services, "heat_templates", name="lamp", version="1.1.0")
    page = alice.get(f"/dashboard/apps/heat_templates/{one['id']}")
    assert page.status_code == 200
    assert "Apache-2.0" in page.text
    assert "mysql@5.7" in page.text
    assert "&lt;b&gt;stack&lt;/b&gt;" in page.text
    assert "1.1.0" in page.text
    assert "(this one)" in page.text
    other = artifact(web, services, "heat_templates", BETA, name="theirs")
    assert alice.get(f"/dashboard/apps/heat_templates/{other['id']}").status_code == 404


def test_unknown_filters_are_refused(alice: Browser) -> None:
    assert alice.get("/dashboard/apps?source=elsewhere").status_code == 400
    assert alice.get("/dashboard/apps?type=nonsense").status_code == 400


@pytest.fixture
def images_only(tmp_path: Path, clean_db: str) -> Iterator[tuple[Settings, Services]]:
    settings = load_settings(env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="noauth",
                             enabled_artifact_types=[])  # fmt: skip
    services = build_services(settings)
    yield settings, services
    services.close()


def test_without_artifacts_the_assets_are_images(images_only: tuple[Settings, Services]) -> None:
    settings, services = images_only
    with browser_for(settings, services) as web:
        alice = Browser(web)
        alice.sign_in(username="alice", project="alpha")
        for name in ("cirros", "ubuntu"):
            alice.post("/dashboard/images", {"name": name, "disk_format": "raw", "container_format": "bare"})
        page = alice.get("/dashboard/apps").text
        assert rows(page) == 2
        assert "artifacts are not enabled" in page
        assert rows(alice.get("/dashboard/apps?q=cirros").text) == 1
        link = alice.get("/dashboard/apps?q=cirros").text.split('<td data-label="Name"><a href="')[1].split('"')[0]
        assert link.startswith("/dashboard/images/")
