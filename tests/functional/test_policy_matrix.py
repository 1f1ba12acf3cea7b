"""Who may do what to which image: every API operation x persona x visibility, with the default policy.

The table EXPECTED below is the specification; the test drives each cell through the API and compares the
outcome class (2xx, 401, 403, 404). docs/policy-matrix.md is generated from the same table:
``GLIMPSE_REGENERATE_DOCS=1 pytest tests/functional/test_policy_matrix.py`` rewrites it, and the test fails
when it is out of date.

The images belong to project ``alpha``. ``shared-accepted`` and ``shared-pending`` images are shared with
project ``beta`` (the other-project member's), which accepted or has not answered yet. The manager persona
is switched on (``enable_manager_role = true``). Anonymous callers use an app in ``tokens`` mode that gets
no token; everyone else uses noauth identity headers.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from glimpse.container import Services, build_services
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain.images import Location
from glimpse.settings import load_settings
from tests.conftest import make_client
from tests.functional.conftest import OCTET, PATCH21

VISIBILITIES = ("public", "community", "shared-accepted", "shared-pending", "private")
PERSONAS = ("anonymous", "reader", "member", "other-project member", "manager", "admin", "service+user")
HEADERS: dict[str, dict[str, str]] = {
    "reader": {"X-User-Id": "rita", "X-Project-Id": "alpha", "X-Roles": "reader"},
    "member": {"X-User-Id": "alice", "X-Project-Id": "alpha", "X-Roles": "member"},
    "other-project member": {"X-User-Id": "bob", "X-Project-Id": "beta", "X-Roles": "member"},
    "manager": {"X-User-Id": "mia", "X-Project-Id": "alpha", "X-Roles": "manager"},
    "admin": {"X-User-Id": "root", "X-Project-Id": "admin", "X-Roles": "admin"},
    "service+user": {"X-User-Id": "bob", "X-Project-Id": "beta", "X-Roles": "member", "X-Service-Roles": "service"},
}
PERSONA_NOTES = {
    "anonymous": "no token (an app in `tokens` mode)",
    "reader": "role `reader` in `alpha`, the owner project",
    "member": "role `member` in `alpha`",
    "other-project member": "role `member` in `beta`, the project the shared images are shared with",
    "manager": "role `manager` in `alpha`, with `enable_manager_role = true`",
    "admin": "role `admin` (in project `admin`)",
    "service+user": "the `beta` member's token with a service token carrying role `service`",
}
SETUP = {"X-User-Id": "setup", "X-Project-Id": "admin", "X-Roles": "admin"}
DATA = b"matrix image data"

# Outcome classes, one per visibility in the order of VISIBILITIES.
R = "2xx 2xx 2xx 2xx 2xx"
OWNER_ONLY = "403 403 403 403 404"  # a project member elsewhere: seen (except private) but not changed
FORBIDDEN = "403 403 403 403 403"
DENIED = "401 401 401 401 401"
SHARED_ONLY = "403 403 2xx 2xx 403"  # members exist only on shared images

EXPECTED: dict[str, dict[str, str]] = {
    "create": {
        "reader": FORBIDDEN, "member": "403 2xx 2xx 2xx 2xx", "other-project member": "403 2xx 2xx 2xx 2xx",
        "manager": "403 2xx 2xx 2xx 2xx", "admin": R, "service+user": "403 2xx 2xx 2xx 2xx",
    },
    "list": {"reader": R, "member": R, "other-project member": R, "manager": R, "admin": R, "service+user": R},
    "show": {
        "reader": R, "member": R, "other-project member": "2xx 2xx 2xx 2xx 404", "manager": R, "admin": R,
        "service+user": "2xx 2xx 2xx 2xx 404",
    },
    "update": {
        "reader": FORBIDDEN, "member": R, "other-project member": OWNER_ONLY, "manager": R, "admin": R,
        "service+user": OWNER_ONLY,
    },
    "delete": {
        "reader": FORBIDDEN, "member": R, "other-project member": OWNER_ONLY, "manager": R, "admin": R,
        "service+user": OWNER_ONLY,
    },
    "upload": {
        "reader": FORBIDDEN, "member": R, "other-project member": OWNER_ONLY, "manager": R, "admin": R,
        "service+user": OWNER_ONLY,
    },
    "download": {
        "reader": FORBIDDEN, "member": R, "other-project member": "2xx 2xx 2xx 2xx 404", "manager": R, "admin": R,
        "service+user": "2xx 2xx 2xx 2xx 404",
    },
    "deactivate": {
        "reader": FORBIDDEN, "member": R, "other-project member": OWNER_ONLY, "manager": R, "admin": R,
        "service+user": OWNER_ONLY,
    },
    "reactivate": {
        "reader": FORBIDDEN, "member": R, "other-project member": OWNER_ONLY, "manager": R, "admin": R,
        "service+user": OWNER_ONLY,
    },
    "add tag": {
        "reader": FORBIDDEN, "member": R, "other-project member": OWNER_ONLY, "manager": R, "admin": R,
        "service+user": OWNER_ONLY,
    },
    "delete tag": {
        "reader": FORBIDDEN, "member": R, "other-project member": OWNER_ONLY, "manager": R, "admin": R,
        "service+user": OWNER_ONLY,
    },
    "add member": {
        "reader": FORBIDDEN, "member": SHARED_ONLY, "other-project member": OWNER_ONLY, "manager": SHARED_ONLY,
        "admin": SHARED_ONLY, "service+user": OWNER_ONLY,
    },
    "list members": {
        "reader": SHARED_ONLY, "member": SHARED_ONLY, "other-project member": "403 403 2xx 2xx 404",
        "manager": SHARED_ONLY, "admin": SHARED_ONLY, "service+user": "403 403 2xx 2xx 404",
    },
    "show member": {
        "reader": "404 404 2xx 2xx 404", "member": "404 404 2xx 2xx 404", "other-project member": "404 404 2xx 2xx 404",
        "manager": "404 404 2xx 2xx 404", "admin": "404 404 2xx 2xx 404", "service+user": "404 404 2xx 2xx 404",
    },
    "update member": {
        "reader": FORBIDDEN, "member": FORBIDDEN, "other-project member": "403 403 2xx 2xx 404",
        "manager": FORBIDDEN, "admin": SHARED_ONLY, "service+user": "403 403 2xx 2xx 404",
    },
    "delete member": {
        "reader": FORBIDDEN, "member": SHARED_ONLY, "other-project member": OWNER_ONLY, "manager": SHARED_ONLY,
        "admin": SHARED_ONLY, "service+user": OWNER_ONLY,
    },
    "stores detail": {
        "reader": FORBIDDEN, "member": FORBIDDEN, "other-project member": FORBIDDEN, "manager": FORBIDDEN,
        "admin": R, "service+user": R,
    },
    "store delete": {
        "reader": FORBIDDEN, "member": FORBIDDEN, "other-project member": OWNER_ONLY, "manager": R, "admin": R,
        "service+user": OWNER_ONLY,
    },
    "tasks list": {
        "reader": FORBIDDEN, "member": FORBIDDEN, "other-project member": FORBIDDEN, "manager": FORBIDDEN,
        "admin": R, "service+user": FORBIDDEN,
    },
    "import copy-image": {
        "reader": FORBIDDEN, "member": FORBIDDEN, "other-project member": OWNER_ONLY, "manager": R, "admin": R,
        "service+user": OWNER_ONLY,
    },
}  # fmt: skip
for _row in EXPECTED.values():
    _row["anonymous"] = DENIED


@dataclass(frozen=True)
class Cell:
    persona: str
    visibility: str
    image_id: str
    headers: dict[str, str]


Call = Callable[[TestClient, Cell], httpx.Response]


@dataclass(frozen=True)
class Operation:
    name: str
    request: str  # for the docs
    call: Call
    image: str = "active"  # what each cell needs: "none", "queued", "active", "deactivated", "two stores"
    fresh: bool = False  # an image of its own per cell (the call changes what the next cell would see)
    rule: str = ""  # the policy rules involved, for the docs
    note: str = ""  # for the docs


def _member_status(cell: Cell) -> str:
    return "pending" if cell.visibility == "shared-pending" else "accepted"


OPERATIONS = [
    Operation("create", "POST /v2/images", lambda c, x: c.post(
        "/v2/images", json={"visibility": x.visibility.split("-")[0]}, headers=x.headers), "none",
        rule="add_image, publicize_image / communitize_image",
        note="The column is the visibility asked for; the new image belongs to the caller's project."),
    Operation("list", "GET /v2/images", lambda c, x: c.get("/v2/images", headers=x.headers), "none",
              rule="get_images", note="Which images a list shows is the database's business, not the policy's."),
    Operation("show", "GET /v2/images/{id}", lambda c, x: c.get(f"/v2/images/{x.image_id}", headers=x.headers),
              rule="get_image"),
    Operation("update", "PATCH /v2/images/{id} (name)", lambda c, x: c.patch(
        f"/v2/images/{x.image_id}", json=[{"op": "replace", "path": "/name", "value": "renamed"}],
        headers={**PATCH21, **x.headers}), rule="modify_image"),
    Operation("delete", "DELETE /v2/images/{id}", lambda c, x: c.delete(
        f"/v2/images/{x.image_id}", headers=x.headers), fresh=True, rule="delete_image"),
    Operation("upload", "PUT /v2/images/{id}/file", lambda c, x: c.put(
        f"/v2/images/{x.image_id}/file", content=DATA, headers={**OCTET, **x.headers}), "queued", fresh=True,
        rule="upload_image"),
    Operation("download", "GET /v2/images/{id}/file", lambda c, x: c.get(
        f"/v2/images/{x.image_id}/file", headers=x.headers), rule="download_image",
        note="Downloading needs the member role: a reader may see an image but not fetch its data."),
    Operation("deactivate", "POST /v2/images/{id}/actions/deactivate", lambda c, x: c.post(
        f"/v2/images/{x.image_id}/actions/deactivate", headers=x.headers), rule="deactivate"),
    Operation("reactivate", "POST /v2/images/{id}/actions/reactivate", lambda c, x: c.post(
        f"/v2/images/{x.image_id}/actions/reactivate", headers=x.headers), "deactivated", rule="reactivate"),
    Operation("add tag", "PUT /v2/images/{id}/tags/{tag}", lambda c, x: c.put(
        f"/v2/images/{x.image_id}/tags/matrix", headers=x.headers), rule="modify_image"),
    Operation("delete tag", "DELETE /v2/images/{id}/tags/{tag}", lambda c, x: c.delete(
        f"/v2/images/{x.image_id}/tags/{x.persona}", headers=x.headers), rule="modify_image"),
    Operation("add member", "POST /v2/images/{id}/members", lambda c, x: c.post(
        f"/v2/images/{x.image_id}/members", json={"member": f"delta-{x.persona}"}, headers=x.headers),
        rule="add_member"),
    Operation("list members", "GET /v2/images/{id}/members", lambda c, x: c.get(
        f"/v2/images/{x.image_id}/members", headers=x.headers), rule="get_members"),
    Operation("show member", "GET /v2/images/{id}/members/beta", lambda c, x: c.get(
        f"/v2/images/{x.image_id}/members/beta", headers=x.headers), rule="get_member"),
    Operation("update member", "PUT /v2/images/{id}/members/beta", lambda c, x: c.put(
        f"/v2/images/{x.image_id}/members/beta", json={"status": _member_status(x)}, headers=x.headers),
        rule="modify_member", note="Only the member project (or an admin) answers a sharing, never the owner."),
    Operation("delete member", "DELETE /v2/images/{id}/members/beta", lambda c, x: c.delete(
        f"/v2/images/{x.image_id}/members/beta", headers=x.headers), fresh=True, rule="delete_member"),
    Operation("stores detail", "GET /v2/info/stores/detail", lambda c, x: c.get(
        "/v2/info/stores/detail", headers=x.headers), "none", rule="stores_info_detail",
        note="No image involved: the same answer in every column."),
    Operation("store delete", "DELETE /v2/stores/two/{id}", lambda c, x: c.delete(
        f"/v2/stores/two/{x.image_id}", headers=x.headers), "two stores", fresh=True,
        rule="delete_image_location", note="An admin's, or a manager's of the owner project (manager persona)."),
    Operation("tasks list", "GET /v2/tasks", lambda c, x: c.get("/v2/tasks", headers=x.headers), "none",
              rule="tasks_api_access, get_tasks", note="No image involved: the same answer in every column."),
    Operation("import copy-image", "POST /v2/images/{id}/import (copy-image to store two)", lambda c, x: c.post(
        f"/v2/images/{x.image_id}/import", json={"method": {"name": "copy-image"}, "stores": ["two"]},
        headers=x.headers), fresh=True, rule="copy_image",
        note="An admin's, or a manager's of the owner project (manager persona)."),
]  # fmt: skip


def outcome(status: int) -> str:
    return "2xx" if 200 <= status < 300 else str(status)


@dataclass
class World:
    client: TestClient
    anonymous: TestClient
    services: Services

    def image(self, visibility: str, state: str) -> str:
        """An image of project alpha in the given state, shared with beta for the shared-* visibilities."""
        body = {
            "owner": "alpha", "visibility": visibility.split("-")[0], "disk_format": "raw",
            "container_format": "bare", "tags": [p for p in PERSONAS],
        }  # fmt: skip
        response = self.client.post("/v2/images", json=body, headers=SETUP)
        assert response.status_code == 201, response.text
        image_id: str = response.json()["id"]
        if state != "queued":
            self._ok(self.client.put(f"/v2/images/{image_id}/file", content=DATA, headers={**OCTET, **SETUP}))
        if state == "deactivated":
            self._ok(self.client.post(f"/v2/images/{image_id}/actions/deactivate", headers=SETUP))
        if state == "two stores":
            self._copy_to_store_two(image_id)
        if visibility.startswith("shared"):
            members = f"/v2/images/{image_id}/members"
            self._ok(self.client.post(members, json={"member": "beta"}, headers=SETUP))
            if visibility == "shared-accepted":
                self._ok(self.client.put(f"{members}/beta", json={"status": "accepted"}, headers=SETUP))
        return image_id

    @staticmethod
    def _ok(response: httpx.Response) -> None:
        assert response.status_code < 300, response.text

    def _copy_to_store_two(self, image_id: str) -> None:
        async def blocks() -> AsyncIterator[bytes]:
            yield DATA

        stored = asyncio.run(self.services.stores.get("two").put(image_id, blocks()))

        def work(session: Any) -> None:
            repo = ImageRepository(session)
            image = repo.get(image_id, None)
            image.locations.append(Location(url=stored.url, store="two"))
            repo.save(image)

        self.services.db.run_sync(work)


@pytest.fixture
def world(tmp_path: Path, clean_db: str) -> Iterator[World]:
    stores = {"one": {"id": "one", "type": "file"}, "two": {"id": "two", "type": "file"}}
    common: dict[str, Any] = {
        "data_dir": tmp_path / "data", "database_url": clean_db, "stores": stores, "default_backend": "one",
        "enable_manager_role": True, "worker_in_process": False,
    }  # fmt: skip
    settings = load_settings(env={}, auth="noauth", **common)
    tokens = load_settings(env={}, auth="tokens", token_file=tmp_path / "tokens.json", **common)
    services = build_services(settings)
    try:
        anonymous_services = build_services(tokens, db=services.db, stores=services.stores, policy=services.policy)
        with make_client(settings, services) as client, make_client(tokens, anonymous_services) as anonymous:
            yield World(client, anonymous, services)
    finally:
        services.close()


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.name for op in OPERATIONS])
def test_policy_matrix(world: World, operation: Operation) -> None:
    mismatches: list[str] = []
    for column, visibility in enumerate(VISIBILITIES):
        shared_image = "" if operation.image == "none" or operation.fresh else world.image(visibility, operation.image)
        for persona in PERSONAS:
            expected = EXPECTED[operation.name][persona].split()[column]
            if persona == "anonymous":
                cell = Cell(persona, visibility, shared_image or "00000000-0000-0000-0000-000000000000", {})
                response = operation.call(world.anonymous, cell)
            else:
                image_id = world.image(visibility, operation.image) if operation.fresh else shared_image
                response = operation.call(world.client, Cell(persona, visibility, image_id, HEADERS[persona]))
            got = outcome(response.status_code)
            if got != expected:
                mismatches.append(f"{persona:21} {visibility:16} expected {expected}, got {got}: {response.text[:120]}")
    assert not mismatches, f"{operation.name} ({operation.request}):\n" + "\n".join(mismatches)


# -- docs/policy-matrix.md ---------------------------------------------------------------------------------

DOC = Path(__file__).resolve().parents[2] / "docs" / "policy-matrix.md"


def render() -> str:
    lines = [
        "# Policy matrix",
        "",
        "Generated from `EXPECTED` in `tests/functional/test_policy_matrix.py`, which checks every cell",
        "against the running API; do not edit by hand: `GLIMPSE_REGENERATE_DOCS=1 pytest",
        "tests/functional/test_policy_matrix.py` rewrites this file. The default policy (docs/policy.md) with",
        "the manager persona switched on.",
        "",
        "The images belong to project `alpha`. `shared-accepted` and `shared-pending` images are shared with",
        "project `beta`, which accepted the sharing or has not answered. `2xx` is success; `401` no credentials;",
        "`403` seen but refused; `404` not visible to the caller at all.",
        "",
        "| Persona | Who |",
        "|---|---|",
        *[f"| {persona} | {PERSONA_NOTES[persona]} |" for persona in PERSONAS],
        "",
    ]
    for operation in OPERATIONS:
        lines += [
            f"## {operation.name}",
            "",
            f"`{operation.request}`; policy: `{operation.rule}`." + (f" {operation.note}" if operation.note else ""),
            "",
            "| Persona | " + " | ".join(VISIBILITIES) + " |",
            "|---|" + "---|" * len(VISIBILITIES),
            *[f"| {persona} | " + " | ".join(EXPECTED[operation.name][persona].split()) + " |" for persona in PERSONAS],
            "",
        ]
    return "\n".join(lines)


def test_the_matrix_document_is_current() -> None:
    text = render()
    if os.environ.get("GLIMPSE_REGENERATE_DOCS") == "1":
        DOC.write_text(text, encoding="utf-8")
    assert DOC.read_text(encoding="utf-8") == text, (
        "docs/policy-matrix.md is out of date: GLIMPSE_REGENERATE_DOCS=1 pytest tests/functional/test_policy_matrix.py"
    )


def test_every_cell_is_specified() -> None:
    assert set(EXPECTED) == {op.name for op in OPERATIONS}
    for name, row in EXPECTED.items():
        assert set(row) == set(PERSONAS), name
        for persona, outcomes in row.items():
            assert len(outcomes.split()) == len(VISIBILITIES), (name, persona)
            assert set(outcomes.split()) <= {"2xx", "401", "403", "404"}, (name, persona)
