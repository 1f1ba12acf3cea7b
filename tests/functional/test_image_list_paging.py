"""GET /v2/images paged by marker: each sort order comes out the same page by page as in one page, through NULL
names, equal names and equal creation times, for an admin and for a member (whose list is a union of visibility
branches), whether the sort keys go one way (a row-value bound) or several (the keyset OR-chain)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from glimpse.container import Services
from tests.functional.conftest import ALICE, BOB
from tests.functional.test_image_list import listed, set_times

MakeImage = Callable[..., dict[str, Any]]

# (query, the sort keys with their directions Glance applies to it)
ORDERS = [
    ("", [("created_at", "desc"), ("id", "desc")]),
    ("sort_dir=asc", [("created_at", "asc"), ("id", "asc")]),
    ("sort_key=name&sort_dir=asc", [("name", "asc"), ("created_at", "asc"), ("id", "asc")]),
    ("sort_key=name", [("name", "desc"), ("created_at", "desc"), ("id", "desc")]),
    ("sort=name:asc,created_at:desc", [("name", "asc"), ("created_at", "desc"), ("id", "desc")]),
    ("sort=name:desc,created_at:asc", [("name", "desc"), ("created_at", "asc"), ("id", "desc")]),
    ("sort=name:asc,created_at:asc", [("name", "asc"), ("created_at", "asc"), ("id", "desc")]),
    ("sort=min_disk:asc,name:desc", [("min_disk", "asc"), ("name", "desc"), ("created_at", "desc"), ("id", "desc")]),
]


@pytest.fixture
def catalogue(client: TestClient, services: Services, make_image: MakeImage) -> None:
    """Images in every branch of BOB's list (public, his own, ALICE's shared with him; and ALICE's private and
    community ones, which he does not list), with NULL and equal names and some creation times equal to the second."""
    names = [None, "a", "a", None, "b", "a", "c", None, "b", "a", None, "c"]
    makers: list[tuple[dict[str, str], str]] = [
        ({}, "public"), (ALICE, "private"), (ALICE, "shared"), (BOB, "private"), (ALICE, "community"),
        (BOB, "shared"),
    ]  # fmt: skip
    for index, name in enumerate(names):
        headers, visibility = makers[index % len(makers)]
        body: dict[str, Any] = {"visibility": visibility, "min_disk": index % 2}
        if name is not None:
            body["name"] = name
        image = make_image(headers, **body)
        set_times(services, image["id"], datetime(2024, 1, 1, 12, 0, index // 3))
        if visibility == "shared" and headers is ALICE:
            url = f"/v2/images/{image['id']}/members"
            assert client.post(url, json={"member": "beta"}, headers=ALICE).status_code == 200
            assert client.put(f"{url}/beta", json={"status": "accepted"}, headers=BOB).status_code == 200


def _expected(images: list[dict[str, Any]], keys: list[tuple[str, str]]) -> list[str]:
    ordered = list(images)
    for key, direction in reversed(keys):  # a stable sort per key, the last key first
        ordered.sort(key=lambda image: image.get(key) or ("" if key == "name" else 0), reverse=direction == "desc")
    return [image["id"] for image in ordered]


@pytest.mark.usefixtures("catalogue")
@pytest.mark.parametrize("viewer", [{}, BOB], ids=["admin", "member"])
@pytest.mark.parametrize(("query", "keys"), ORDERS, ids=[query or "default" for query, _ in ORDERS])
def test_pages_follow_the_order_of_one_page(
    client: TestClient, viewer: dict[str, str], query: str, keys: list[tuple[str, str]]
) -> None:
    whole = client.get(f"/v2/images?{query}&limit=100", headers=viewer).json()["images"]
    assert len(whole) >= 8
    assert [image["id"] for image in whole] == _expected(whole, keys)
    for limit in (1, 2, 5):
        pages: list[str] = []
        marker = ""
        while page := listed(client, f"?{query}&limit={limit}{marker}", viewer):
            assert len(page) <= limit
            assert len(pages) < len(whole), (limit, pages)  # a page repeating itself would never end
            pages += page
            marker = f"&marker={page[-1]}"
        assert pages == [image["id"] for image in whole], (limit, pages)
