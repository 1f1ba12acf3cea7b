"""GET /v2/images: filters, sorting, paging and links."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from glimpse.container import Services
from glimpse.db.models import ImageRow
from glimpse.settings import load_settings
from tests.conftest import running_app
from tests.functional.conftest import ALICE, BOB, plain_error

MakeImage = Callable[..., dict[str, Any]]


def listed(client: TestClient, query: str = "", headers: dict[str, str] | None = None) -> list[str]:
    response = client.get(f"/v2/images{query}", headers=headers or {})
    assert response.status_code == 200, response.text
    return [image["id"] for image in response.json()["images"]]


def set_times(services: Services, image_id: str, created_at: datetime, updated_at: datetime | None = None) -> None:
    def work(session: Any) -> None:
        session.execute(
            sa.update(ImageRow)
            .where(ImageRow.id == image_id)
            .values(created_at=created_at, updated_at=updated_at or created_at)
        )

    services.db.run_sync(work)


@pytest.fixture
def timed(services: Services, make_image: MakeImage) -> Callable[..., dict[str, Any]]:
    """Images created at whole, distinct seconds (so time filters and default order are exact)."""
    counter = [0]

    def make(headers: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
        image = make_image(headers, **body)
        counter[0] += 1
        created = datetime(2024, 1, 1, 12, 0, counter[0])
        set_times(services, image["id"], created)
        image["created_at"] = created.strftime("%Y-%m-%dT%H:%M:%SZ")
        return image

    return make


# -- response shape ------------------------------------------------------------------------------------------
def test_empty_list(client: TestClient) -> None:
    response = client.get("/v2/images")
    assert response.status_code == 200
    assert response.json() == {"images": [], "first": "/v2/images", "schema": "/v2/schemas/images"}


def test_list_entries_are_full_images(client: TestClient, make_image: MakeImage) -> None:
    image = make_image(name="one", tags=["t"], os_distro="cirros")
    body = client.get("/v2/images").json()
    assert body["images"] == [client.get(f"/v2/images/{image['id']}").json()]
    assert body["images"][0]["self"] == f"/v2/images/{image['id']}"
    assert body["images"][0]["os_distro"] == "cirros"


def test_default_order_is_newest_first(client: TestClient, timed: Callable[..., dict[str, Any]]) -> None:
    images = [timed()["id"] for _ in range(3)]
    assert listed(client) == list(reversed(images))


# -- filters -------------------------------------------------------------------------------------------------
def test_filter_by_name(client: TestClient, make_image: MakeImage) -> None:
    a = make_image(name="alpha")
    make_image(name="beta")
    make_image(name="alphabet")
    assert listed(client, "?name=alpha") == [a["id"]]
    assert listed(client, "?name=gamma") == []


def test_filter_by_status(client: TestClient, make_image: MakeImage, active_image: MakeImage) -> None:
    queued = make_image()
    active = active_image(b"x")
    assert listed(client, "?status=queued") == [queued["id"]]
    assert listed(client, "?status=active") == [active["id"]]
    assert set(listed(client, "?status=in:queued,active")) == {queued["id"], active["id"]}


def test_filter_by_owner(client: TestClient, make_image: MakeImage) -> None:
    mine = make_image(ALICE)
    theirs = make_image(BOB)
    assert listed(client, "?owner=alpha") == [mine["id"]]
    assert listed(client, "?owner=beta") == [theirs["id"]]


def test_filter_by_formats(client: TestClient, make_image: MakeImage) -> None:
    raw = make_image(disk_format="raw", container_format="bare")
    qcow = make_image(disk_format="qcow2", container_format="ovf")
    assert listed(client, "?disk_format=qcow2") == [qcow["id"]]
    assert listed(client, "?container_format=bare") == [raw["id"]]
    assert set(listed(client, "?disk_format=in:raw,qcow2")) == {raw["id"], qcow["id"]}


def test_in_operator_with_quoted_commas(client: TestClient, make_image: MakeImage) -> None:
    darkly = make_image(name="glass, darkly")
    share = make_image(name="share me")
    glass = make_image(name="glass")
    query = {"name": 'in:"glass, darkly",share me'}
    response = client.get("/v2/images", params=query)
    assert {image["id"] for image in response.json()["images"]} == {darkly["id"], share["id"]}
    # without quotes the comma splits, and names must match exactly
    assert listed(client, "?name=in:glass,share") == [glass["id"]]


def test_in_operator_with_ids(client: TestClient, make_image: MakeImage) -> None:
    a, b, _ = make_image(), make_image(), make_image()
    assert set(listed(client, f"?id=in:{a['id']},{b['id']}")) == {a["id"], b["id"]}


def test_in_operator_with_unclosed_quote_is_400(client: TestClient) -> None:
    response = client.get("/v2/images", params={"name": 'in:"glass,share'})
    assert response.status_code == 400


def test_in_operator_on_unsupported_attribute_is_400(client: TestClient) -> None:
    assert client.get("/v2/images?owner=in:a,b").status_code == 400


def test_size_min_and_size_max(client: TestClient, active_image: MakeImage) -> None:
    small = active_image(b"x" * 10)
    medium = active_image(b"x" * 100)
    large = active_image(b"x" * 1000)
    assert set(listed(client, "?size_min=100")) == {medium["id"], large["id"]}
    assert set(listed(client, "?size_max=100")) == {small["id"], medium["id"]}
    assert listed(client, "?size_min=11&size_max=999") == [medium["id"]]
    assert listed(client, "?size_min=1001") == []


@pytest.mark.parametrize("query", ["?size_min=abc", "?size_max=-1", "?size_min=1.5"])
def test_bad_size_filter_is_400(client: TestClient, query: str) -> None:
    response = client.get(f"/v2/images{query}")
    assert response.status_code == 400
    assert response.text.startswith("400 Bad Request\n\n")


@pytest.mark.parametrize("column", ["created_at", "updated_at"])
def test_time_comparison_filters(client: TestClient, services: Services, make_image: MakeImage, column: str) -> None:
    images = [make_image()["id"] for _ in range(3)]
    for second, image_id in enumerate(images, start=1):
        moment = datetime(2024, 1, 1, 12, 0, second * 10)
        if column == "created_at":
            set_times(services, image_id, moment, datetime(2030, 1, 1))
        else:
            set_times(services, image_id, datetime(2020, 1, 1), moment)
    first, second, third = images
    middle = "2024-01-01T12:00:20Z"
    assert set(listed(client, f"?{column}=gt:{middle}")) == {third}
    assert set(listed(client, f"?{column}=gte:{middle}")) == {second, third}
    assert set(listed(client, f"?{column}=eq:{middle}")) == {second}
    assert set(listed(client, f"?{column}={middle}")) == {second}
    assert set(listed(client, f"?{column}=neq:{middle}")) == {first, third}
    assert set(listed(client, f"?{column}=lt:{middle}")) == {first}
    assert set(listed(client, f"?{column}=lte:{middle}")) == {first, second}
    # a time zone offset is normalised to UTC
    response = client.get("/v2/images", params={column: "eq:2024-01-01T13:00:20+01:00"})
    assert [image["id"] for image in response.json()["images"]] == [second]


@pytest.mark.parametrize("value", ["yesterday", "gt:not-a-time", "gt:2024-13-01T00:00:00Z"])
def test_bad_time_filter_is_400(client: TestClient, value: str) -> None:
    response = client.get("/v2/images", params={"created_at": value})
    assert response.status_code == 400


def test_repeated_tag_filter_needs_all_tags(client: TestClient, make_image: MakeImage) -> None:
    both = make_image(tags=["ready", "approved"])
    ready = make_image(tags=["ready"])
    make_image(tags=["other"])
    assert set(listed(client, "?tag=ready")) == {both["id"], ready["id"]}
    assert listed(client, "?tag=ready&tag=approved") == [both["id"]]
    assert listed(client, "?tag=ready&tag=missing") == []


def test_extra_property_equality_filter(client: TestClient, make_image: MakeImage) -> None:
    cirros = make_image(os_distro="cirros", hw_disk_bus="scsi")
    ubuntu = make_image(os_distro="ubuntu", hw_disk_bus="scsi")
    make_image()
    assert listed(client, "?os_distro=cirros") == [cirros["id"]]
    assert set(listed(client, "?hw_disk_bus=scsi")) == {cirros["id"], ubuntu["id"]}
    assert listed(client, "?hw_disk_bus=scsi&os_distro=ubuntu") == [ubuntu["id"]]
    assert listed(client, "?os_distro=debian") == []


def test_filter_by_protected(client: TestClient, make_image: MakeImage) -> None:
    protected = make_image(protected=True)
    plain = make_image()
    assert listed(client, "?protected=true") == [protected["id"]]
    assert listed(client, "?protected=false") == [plain["id"]]
    assert client.get("/v2/images?protected=perhaps").status_code == 400


def test_filter_by_min_disk_and_checksum(client: TestClient, make_image: MakeImage, active_image: MakeImage) -> None:
    big = make_image(min_disk=20)
    make_image(min_disk=1)
    assert listed(client, "?min_disk=20") == [big["id"]]
    data_image = active_image(b"checksummed")
    checksum = client.get(f"/v2/images/{data_image['id']}").json()["checksum"]
    assert listed(client, f"?checksum={checksum}") == [data_image["id"]]


def test_visibility_filter(client: TestClient, make_image: MakeImage) -> None:
    public = make_image(visibility="public")
    private = make_image(ALICE, visibility="private")
    shared = make_image(ALICE, visibility="shared")
    community = make_image(ALICE, visibility="community")
    assert listed(client, "?visibility=public", ALICE) == [public["id"]]
    assert listed(client, "?visibility=private", ALICE) == [private["id"]]
    assert listed(client, "?visibility=shared", ALICE) == [shared["id"]]
    assert listed(client, "?visibility=community", ALICE) == [community["id"]]
    everything = {public["id"], private["id"], shared["id"], community["id"]}
    assert set(listed(client, "?visibility=all", ALICE)) == everything
    response = client.get("/v2/images?visibility=everyone", headers=ALICE)
    assert response.status_code == 400
    assert response.text == plain_error("400 Bad Request", "Invalid visibility value: everyone")


def test_owner_sees_own_community_images_in_default_list(client: TestClient, make_image: MakeImage) -> None:
    community = make_image(ALICE, visibility="community")
    private = make_image(ALICE, visibility="private")
    # the owner's default list includes its community image (api-ref, "Image visibility")
    assert set(listed(client, "", ALICE)) == {community["id"], private["id"]}
    # nobody else's default list does
    assert listed(client, "", BOB) == []
    assert community["id"] not in listed(client)
    assert listed(client, "?visibility=community", BOB) == [community["id"]]


def test_member_status_filter(client: TestClient, make_image: MakeImage) -> None:
    pending = make_image(ALICE)
    accepted = make_image(ALICE)
    rejected = make_image(ALICE)
    for image in (pending, accepted, rejected):
        assert (
            client.post(f"/v2/images/{image['id']}/members", json={"member": "beta"}, headers=ALICE).status_code == 200
        )
    for image, status in ((accepted, "accepted"), (rejected, "rejected")):
        url = f"/v2/images/{image['id']}/members/beta"
        assert client.put(url, json={"status": status}, headers=BOB).status_code == 200
    assert listed(client, "", BOB) == [accepted["id"]]
    assert listed(client, "?member_status=accepted", BOB) == [accepted["id"]]
    assert listed(client, "?member_status=pending", BOB) == [pending["id"]]
    assert listed(client, "?member_status=rejected", BOB) == [rejected["id"]]
    assert set(listed(client, "?member_status=all", BOB)) == {pending["id"], accepted["id"], rejected["id"]}
    assert listed(client, "?visibility=shared&member_status=pending", BOB) == [pending["id"]]
    assert client.get("/v2/images?member_status=maybe", headers=BOB).status_code == 400
    # the owner always sees its shared images
    assert len(listed(client, "", ALICE)) == 3


def test_non_member_never_sees_shared_images(client: TestClient, make_image: MakeImage) -> None:
    make_image(ALICE)
    assert listed(client, "?member_status=all", BOB) == []
    assert listed(client, "?visibility=shared&member_status=all", BOB) == []
    assert listed(client, "?visibility=all", BOB) == []


# -- sorting -------------------------------------------------------------------------------------------------
def test_sort_key_and_dir(client: TestClient, make_image: MakeImage) -> None:
    b = make_image(name="b", min_disk=1)
    a = make_image(name="a", min_disk=2)
    c = make_image(name="c", min_disk=3)
    assert listed(client, "?sort_key=name&sort_dir=asc") == [a["id"], b["id"], c["id"]]
    assert listed(client, "?sort_key=name&sort_dir=desc") == [c["id"], b["id"], a["id"]]
    assert listed(client, "?sort_key=name") == [c["id"], b["id"], a["id"]]
    assert listed(client, "?sort_key=min_disk&sort_dir=asc") == [b["id"], a["id"], c["id"]]


def test_sort_by_several_keys(client: TestClient, make_image: MakeImage) -> None:
    x1 = make_image(name="x", min_disk=1)
    x2 = make_image(name="x", min_disk=2)
    y1 = make_image(name="y", min_disk=1)
    expected = [x2["id"], x1["id"], y1["id"]]
    assert listed(client, "?sort_key=name&sort_dir=asc&sort_key=min_disk&sort_dir=desc") == expected
    assert listed(client, "?sort=name:asc,min_disk:desc") == expected
    # one sort_dir applies to every key
    assert listed(client, "?sort_key=name&sort_key=min_disk&sort_dir=asc") == [x1["id"], x2["id"], y1["id"]]
    # a key without a direction in `sort` is descending
    assert listed(client, "?sort=name,min_disk:asc") == [y1["id"], x1["id"], x2["id"]]


def test_sort_with_null_names(client: TestClient, make_image: MakeImage) -> None:
    named = make_image(name="n")
    unnamed = make_image()
    assert listed(client, "?sort_key=name&sort_dir=asc") == [unnamed["id"], named["id"]]
    assert listed(client, "?sort_key=name&sort_dir=asc&limit=1&marker=" + unnamed["id"]) == [named["id"]]


def test_equal_sort_values_fall_back_to_creation_time(client: TestClient, timed: Callable[..., dict[str, Any]]) -> None:
    images = [timed(name="same")["id"] for _ in range(4)]
    # ties on the sort key are broken by created_at, in the requested direction
    assert listed(client, "?sort_key=name&sort_dir=asc") == images
    assert listed(client, "?sort=name:desc") == list(reversed(images))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?sort_key=bogus", "Invalid sort key: bogus."),
        ("?sort=bogus:asc", "Invalid sort key: bogus."),
        ("?sort_key=self", "Invalid sort key: self."),
        ("?sort_key=name&sort_dir=up", "Invalid sort direction: up"),
        ("?sort=name:up", "Invalid sort direction: up"),
        ("?sort=name:asc&sort_key=name", None),
        ("?sort_key=name&sort_key=size&sort_dir=asc&sort_dir=desc&sort_dir=asc", None),
    ],
)
def test_bad_sort_is_400(client: TestClient, query: str, message: str | None) -> None:
    response = client.get(f"/v2/images{query}")
    assert response.status_code == 400
    assert response.text.startswith("400 Bad Request\n\n")
    if message is not None:
        assert message in response.text


# -- paging --------------------------------------------------------------------------------------------------
def test_limit_marker_and_links(client: TestClient, timed: Callable[..., dict[str, Any]]) -> None:
    newest_first = list(reversed([timed(name=f"img{i}")["id"] for i in range(5)]))
    first = client.get("/v2/images?limit=2").json()
    assert [image["id"] for image in first["images"]] == newest_first[:2]
    assert first["first"] == "/v2/images?limit=2"
    assert first["schema"] == "/v2/schemas/images"
    next_url = first["next"]
    assert urlsplit(next_url).path == "/v2/images"
    assert dict(parse_qsl(urlsplit(next_url).query)) == {"limit": "2", "marker": newest_first[1]}
    pages = [image["id"] for image in first["images"]]
    while "next" in (page := client.get(next_url).json()):
        pages += [image["id"] for image in page["images"]]
        next_url = page["next"]
    pages += [image["id"] for image in page["images"]]
    assert pages == newest_first


def test_next_link_keeps_filters_and_sort(client: TestClient, make_image: MakeImage) -> None:
    names = ["a", "b", "c", "d"]
    for name in names:
        make_image(name=name, os_distro="cirros")
    make_image(name="z")
    seen: list[str] = []
    url = "/v2/images?os_distro=cirros&sort_key=name&sort_dir=asc&limit=3"
    while url:
        body = client.get(url).json()
        seen += [image["name"] for image in body["images"]]
        url = body.get("next", "")
        if url:
            params = dict(parse_qsl(urlsplit(url).query))
            assert params["os_distro"] == "cirros"
            assert params["sort_key"] == "name"
            assert params["sort_dir"] == "asc"
    assert seen == names


def test_first_link_keeps_the_query_without_marker(client: TestClient, make_image: MakeImage) -> None:
    images = [make_image(name="n", tags=["a", "b"])["id"] for _ in range(3)]
    body = client.get(f"/v2/images?name=n&tag=a&tag=b&limit=1&marker={images[2]}").json()
    first = urlsplit(body["first"])
    assert first.path == "/v2/images"
    assert parse_qsl(first.query) == [("name", "n"), ("tag", "a"), ("tag", "b"), ("limit", "1")]
    next_query = parse_qsl(urlsplit(body["next"]).query)
    assert next_query[:-1] == [("name", "n"), ("tag", "a"), ("tag", "b"), ("limit", "1")]
    assert next_query[-1][0] == "marker"
    # following `first` starts over
    assert len(client.get(body["first"]).json()["images"]) == 1


def test_no_next_link_on_a_short_page(client: TestClient, make_image: MakeImage) -> None:
    make_image()
    body = client.get("/v2/images?limit=5").json()
    assert len(body["images"]) == 1
    assert "next" not in body


def test_limit_zero(client: TestClient, make_image: MakeImage) -> None:
    make_image()
    assert client.get("/v2/images?limit=0").json()["images"] == []


@pytest.mark.parametrize(
    ("limit", "message"), [("-1", "limit param must be positive"), ("ten", "limit param must be an integer")]
)
def test_bad_limit_is_400(client: TestClient, limit: str, message: str) -> None:
    response = client.get(f"/v2/images?limit={limit}")
    assert response.status_code == 400
    assert response.text == plain_error("400 Bad Request", message)


def test_unknown_marker_is_400(client: TestClient) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    response = client.get(f"/v2/images?marker={missing}")
    assert response.status_code == 400
    assert response.text.startswith("400 Bad Request\n\n")
    assert "marker" in response.text.lower()


def test_marker_of_an_invisible_image_is_400(client: TestClient, make_image: MakeImage) -> None:
    private = make_image(ALICE, visibility="private")
    assert client.get(f"/v2/images?marker={private['id']}", headers=BOB).status_code == 400
    assert client.get(f"/v2/images?marker={private['id']}", headers=ALICE).status_code == 200


def test_marker_of_a_deleted_image_is_400(client: TestClient, make_image: MakeImage) -> None:
    image = make_image()
    assert client.delete(f"/v2/images/{image['id']}").status_code == 204
    assert client.get(f"/v2/images?marker={image['id']}").status_code == 400


@pytest.fixture
def capped_client(tmp_path: Path, clean_db: str) -> Iterator[TestClient]:
    settings = load_settings(
        env={"GLIMPSE_API_LIMIT_MAX": "3"}, data_dir=tmp_path / "data", database_url=clean_db, auth="noauth"
    )
    assert settings.api_limit_max == 3
    with running_app(settings) as test_client:
        yield test_client


def test_limit_is_capped_by_api_limit_max(capped_client: TestClient) -> None:
    for _ in range(5):
        assert capped_client.post("/v2/images", json={}).status_code == 201
    body = capped_client.get("/v2/images?limit=100").json()
    assert len(body["images"]) == 3
    assert "next" in body
    # the default page size is capped too
    assert len(capped_client.get("/v2/images").json()["images"]) == 3


def test_deleted_images_are_not_listed(client: TestClient, make_image: MakeImage) -> None:
    kept = make_image()
    gone = make_image()
    assert client.delete(f"/v2/images/{gone['id']}").status_code == 204
    assert listed(client) == [kept["id"]]


@pytest.mark.parametrize(
    ("operator", "found"),
    [("eq", True), ("gte", True), ("lte", True), ("gt", False), ("lt", False), ("neq", False)],
)
def test_time_filter_on_a_shown_timestamp_means_that_whole_second(
    client: TestClient, make_image: MakeImage, operator: str, found: bool
) -> None:
    """Timestamps are stored finer than they are shown; filtering by a shown value must still agree."""
    image = make_image(name="second")
    shown = image["created_at"]
    listed = client.get("/v2/images", params={"name": "second", "created_at": f"{operator}:{shown}"}).json()
    assert ([i["id"] for i in listed["images"]] == [image["id"]]) is found
