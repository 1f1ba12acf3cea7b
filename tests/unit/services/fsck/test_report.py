"""glimpse.services.fsck.report: the report as JSON and as text."""

from __future__ import annotations

from starlette.testclient import TestClient

from glimpse.container import Services
from tests.unit.services.fsck.support import check, create, set_saving


def test_report_as_json_and_text(client: TestClient, services: Services) -> None:
    image_id = create(client)
    set_saving(services, image_id)
    report = check(services)
    data = report.as_dict()
    assert data["clean"] is False
    assert data["problems"] == data["remaining"] == 1
    assert data["findings"][0]["kind"] == "stuck"
    assert data["findings"][0]["image_id"] == image_id
    text = report.render()
    assert "images:" in text
    assert f"stuck           image {image_id}: in 'saving' since" in text
    assert "1 problem(s) found; `glimpse fsck --repair` repairs orphans and stuck uploads" in text
