"""The artifacts API mounted inside the images process (``[artifacts] mount``), beside the Images API."""

from __future__ import annotations

from pathlib import Path

from glimpse.settings import load_settings
from tests.conftest import running_app
from tests.functional.artifacts.conftest import USER1


def test_mounted_under_its_prefix(tmp_path: Path, clean_db: str) -> None:
    settings = load_settings(
        env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="noauth", artifacts_mount="/artifact"
    )
    with running_app(settings) as client:
        assert client.get("/artifact/versions").status_code == 300
        assert client.get("/artifact").status_code == 300
        created = client.post("/artifact/artifacts/images", json={"name": "i"}, headers=USER1)
        assert created.status_code == 201, created.text
        assert client.get(f"/artifact/artifacts/images/{created.json()['id']}", headers=USER1).json()["name"] == "i"
        assert client.get("/artifact/schemas/images", headers=USER1).status_code == 200
        # the Images API is untouched
        assert client.get("/versions").json()["versions"][0]["id"].startswith("v2")
        assert client.get("/v2/images", headers=USER1).status_code == 200
        assert client.get("/artifactx/schemas", headers=USER1).status_code != 200
