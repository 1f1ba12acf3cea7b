"""Glare's quotas: /quotas and /project-quotas, the artifact count on create, the uploaded bytes an upload
claims; concurrent creates and uploads cannot together pass a limit."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from glimpse.container import Services
from glimpse.context import RequestContext
from glimpse.db.repositories.artifacts import ArtifactRepository
from glimpse.errors import Forbidden, OverLimit
from glimpse.settings import Settings
from tests.functional.artifacts.conftest import ADMIN, USER1, USER2, Api, artifact_settings

TYPE_SECTIONS = {
    "images": {"max_artifact_number": 2, "max_uploaded_data": 1500},
    "sample_artifact": {"max_uploaded_data": 300},
    "heat_templates": {"max_artifact_number": 15},
}
CONFIGURED = {
    "max_artifact_number": 4,
    "max_uploaded_data": 1000,
    "max_artifact_number:images": 2,
    "max_uploaded_data:images": 1500,
    "max_uploaded_data:sample_artifact": 300,
    "max_artifact_number:heat_templates": 15,
}


@pytest.fixture
def settings(tmp_path: Path, clean_db: str) -> Settings:
    return artifact_settings(
        tmp_path,
        clean_db,
        max_artifact_number=4,
        max_uploaded_data=1000,
        artifact_types={**TYPE_SECTIONS, "not_enabled": {"max_artifact_number": 1}},
    )


def quotas(project: str, **values: int) -> dict[str, Any]:
    named = [{"quota_name": name.replace("__", ":"), "quota_value": value} for name, value in values.items()]
    return {"project_id": project, "project_quotas": named}


def as_dict(listed: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    return {item["project_id"]: {q["quota_name"]: q["quota_value"] for q in item["project_quotas"]} for item in listed}


def put(api: Api, body: Any, status: int = 200, user: dict[str, str] = ADMIN) -> Any:
    return api.call("PUT", "/quotas", status, user, json=body)


def test_quotas_api(api: Api) -> None:
    assert api.get("/quotas", user=ADMIN) == {"quotas": [], "global_quotas": CONFIGURED}
    assert as_dict(api.get("/project-quotas")) == {"p1": CONFIGURED}
    assert put(api, [quotas("p1", max_artifact_number=10, max_artifact_number__images=3), quotas("p2")]) is None
    assert as_dict(api.get("/quotas", user=ADMIN)["quotas"]) == {
        "p1": {"max_artifact_number": 10, "max_artifact_number:images": 3}
    }
    mine = {**CONFIGURED, "max_artifact_number": 10, "max_artifact_number:images": 3}
    assert as_dict(api.get("/project-quotas")) == {"p1": mine}
    assert as_dict(api.get("/project-quotas/p1", user=ADMIN)) == {"p1": mine}
    assert as_dict(api.get("/project-quotas/p2", user=USER2)) == {"p2": CONFIGURED}
    # a PUT replaces a project's quotas whole
    put(api, [quotas("p1", max_uploaded_data__sample_artifact=-1)])
    assert as_dict(api.get("/project-quotas"))["p1"]["max_artifact_number"] == 4
    assert as_dict(api.get("/project-quotas"))["p1"]["max_uploaded_data:sample_artifact"] == -1
    # admin only, but each project reads its own
    put(api, [quotas("p1")], 403, user=USER1)
    api.get("/quotas", 403)
    api.get("/project-quotas/p2", 403)
    api.call("DELETE", "/quotas", 405, ADMIN)


@pytest.mark.parametrize(
    "body",
    [
        {"p1": 1},
        [{"p1": "v"}],
        [{"project_id": "p1"}],
        [{"project_quotas": []}],
        [quotas("p1") | {"project_quotas": [{"quota_value": 1}]}],
        [quotas("p1") | {"project_quotas": [{"quota_name": "max_artifact_number"}]}],
        [quotas("p1") | {"project_quotas": [{"quota_name": "max:artifact:number", "quota_value": 1}]}],
        [quotas("p1") | {"project_quotas": [{"quota_name": "a" * 256, "quota_value": 1}]}],
        [quotas("p1") | {"project_quotas": [{"quota_name": "image_size_total", "quota_value": 1}]}],
        [quotas("a" * 256, max_artifact_number=1)],
        [quotas("p1", max_artifact_number=-2)],
        [quotas("p1") | {"project_quotas": [{"quota_name": "max_artifact_number", "quota_value": "AAA"}]}],
        [quotas("p1") | {"project_quotas": [{"quota_name": "max_artifact_number", "quota_value": 10.5}]}],
        [quotas("p1") | {"project_quotas": [{"quota_name": "max_artifact_number", "quota_value": True}]}],
    ],
)
def test_quotas_refused(api: Api, body: Any) -> None:
    error = put(api, body, 400)
    assert error["error"]["type"] == "BadRequest"
    assert api.get("/quotas", user=ADMIN)["quotas"] == []


def test_quotas_need_json(api: Api) -> None:
    response = api.client.put("/quotas", content=b"[]", headers={**ADMIN, "content-type": "text/plain"})
    assert response.status_code == 415


def test_artifact_count_limits(api: Api) -> None:
    for i in range(2):
        api.create({"name": f"img{i}"}, kind="images")
    error = api.create({"name": "img2"}, 403, kind="images")
    assert "quota limit for artifact type 'images' is 2 artifacts" in error["error"]["message"]
    first = api.create({"name": "a0"})
    api.create({"name": "a1"})
    error = api.create({"name": "a2"}, 403)
    assert "global quota limit is 4 artifacts. You have 4 artifact(s)." in error["error"]["message"]
    api.create({"name": "a2"}, user=USER2)  # another project's count is its own
    api.delete(f"/artifacts/sample_artifact/{first['id']}")
    api.create({"name": "a2"})
    # a project's own quotas replace the configured ones; -1 lifts a limit
    put(api, [quotas("p1", max_artifact_number=-1, max_artifact_number__images=3)])
    api.create({"name": "img2"}, kind="images")
    api.create({"name": "img3"}, 403, kind="images")
    for i in range(3, 8):
        api.create({"name": f"a{i}"})


def test_concurrent_creates_cannot_pass_a_limit(services: Services) -> None:
    ctx = RequestContext(user_id="u1", project_id="p1", roles=frozenset({"member"}))

    async def attempt(i: int) -> bool:
        try:
            await services.artifacts.create(ctx, "heat_templates", {"name": f"t{i}"})
        except Forbidden:
            return False
        return True

    async def race() -> list[bool]:
        return await asyncio.gather(*(attempt(i) for i in range(12)))

    assert sum(asyncio.run(race())) == 4
    counted = services.db.run_sync(lambda s: ArtifactRepository(s).count_by_type("p1"))
    assert counted == {"heat_templates": 4}


def _record_blob(services: Services, artifact_id: str, name: str, size: int, external: bool = False) -> None:
    blob = {
        "status": "active", "external": external, "size": size, "md5": None, "sha1": None, "sha256": None,
        "content_type": "application/octet-stream", "url": "http://example.com/x" if external else None,
    }  # fmt: skip
    services.db.run_sync(lambda s: ArtifactRepository(s).set_blob(artifact_id, name, "", blob))


def test_upload_claims_count_recorded_blobs_and_each_other(services: Services) -> None:
    ctx = RequestContext(user_id="u1", project_id="p1", roles=frozenset({"member"}))
    data = services.artifacts.quotas

    async def scenario() -> None:
        art = await services.artifacts.create(ctx, "sample_artifact", {"name": "a"})
        img = await services.artifacts.create(ctx, "images", {"name": "i"})
        with pytest.raises(OverLimit, match=r"quota limit for artifact type 'sample_artifact': 300"):
            await data.claim_upload("p1", "sample_artifact", 301)
        with pytest.raises(OverLimit, match=r"global quota limit: 1000"):
            await data.claim_upload("p1", "images", 1001)
        # a stream of unknown size: covered block by block, cut off when it passes the type's quota
        upload = await data.claim_upload("p1", "sample_artifact")
        await upload.cover(200)
        await upload.cover(300)
        with pytest.raises(OverLimit):
            await upload.cover(301)
        # while it holds 300 bytes, no other upload of the type fits
        with pytest.raises(OverLimit):
            await data.claim_upload("p1", "sample_artifact", 1)
        _record_blob(services, art["id"], "blob", 300)
        await upload.release()
        with pytest.raises(OverLimit):  # the recorded blob counts now
            await data.claim_upload("p1", "sample_artifact", 1)
        _record_blob(services, img["id"], "image", 500, external=True)  # an external blob holds no data here
        first = await data.claim_upload("p1", "images", 400)
        second = await data.claim_upload("p1", "images", 300)
        with pytest.raises(OverLimit, match=r"You have 1000 bytes uploaded"):
            await data.claim_upload("p1", "images", 1)
        await first.release()
        await second.release()
        other = await data.claim_upload("p2", "images", 1000)  # another project's bytes are its own
        await other.release()
        # the artifact's deletion frees its bytes
        await services.artifacts.delete(ctx, "sample_artifact", art["id"])
        fits = await data.claim_upload("p1", "sample_artifact", 300)
        await fits.release()
        await services.artifacts.quotas.set_quotas(
            RequestContext(user_id="root", project_id="p0", roles=frozenset({"admin"})),
            [quotas("p1", max_uploaded_data=-1, max_uploaded_data__images=-1)],
        )
        big = await data.claim_upload("p1", "images", 10**9)
        await big.release()

    asyncio.run(scenario())


def test_concurrent_uploads_cannot_pass_a_limit(services: Services) -> None:
    data = services.artifacts.quotas

    async def race() -> list[Any]:
        # each holds its 400 bytes until every one has tried: 2 of the project's 1000 fit, whatever the order
        return await asyncio.gather(*(data.claim_upload("p1", "images", 400) for _ in range(8)), return_exceptions=True)

    outcomes = asyncio.run(race())
    held = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    assert len(held) == 2
    assert all(isinstance(outcome, OverLimit) for outcome in outcomes if isinstance(outcome, BaseException))

    async def release() -> None:
        for upload in held:
            await upload.release()
        again = await data.claim_upload("p1", "images", 1000)
        await again.release()

    asyncio.run(release())


def test_blob_uploads_are_held_to_the_quotas(api: Api) -> None:
    art = api.create({"name": "a"})
    url = f"/artifacts/sample_artifact/{art['id']}"
    octets = {**USER1, "content-type": "application/octet-stream"}
    refused = api.client.put(f"{url}/blob", content=b"a" * 301, headers=octets)
    assert refused.status_code == 413, refused.text
    assert "quota limit for artifact type 'sample_artifact': 300" in refused.json()["error"]["message"]
    assert api.get(url)["blob"] is None

    def chunks() -> Any:  # no Content-Length: cut off once the stream passes the quota
        yield b"a" * 200
        yield b"a" * 200

    assert api.client.put(f"{url}/blob", content=chunks(), headers=octets).status_code == 413
    assert api.client.put(f"{url}/blob", content=b"a" * 300, headers=octets).status_code == 200
    assert api.get(url)["blob"]["size"] == 300
    again = api.client.put(f"{url}/dict_of_blobs/k", content=b"a", headers=octets)
    assert again.status_code == 413
    assert api.get(url)["dict_of_blobs"] == {}
    # a re-upload holds its new bytes next to the old ones until it is recorded
    assert api.client.put(f"{url}/blob", content=b"b" * 200, headers=octets).status_code == 413
    api.delete(url)
    other = api.create({"name": "b"})
    assert (
        api.client.put(f"/artifacts/sample_artifact/{other['id']}/blob", content=b"c" * 300, headers=octets).status_code
        == 200
    )
