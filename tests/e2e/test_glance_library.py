"""python-glanceclient's library (glanceclient.Client('2', ...)) against a real server."""

from __future__ import annotations

import hashlib
import io
import itertools
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

import pytest
from glanceclient import exc  # type: ignore[import-untyped]

from tests.e2e.conftest import PAGING_COUNT, PagingSet, Payload

pytestmark = pytest.mark.e2e

Lib = Callable[[str], Any]


def _ids(images: Iterable[Any]) -> list[str]:
    return [image["id"] for image in images]


def _small_image(client: Any, name: str, data: bytes, **extra: Any) -> str:
    image = client.images.create(name=name, disk_format="raw", container_format="bare", **extra)
    client.images.upload(image["id"], io.BytesIO(data), image_size=len(data))
    return str(image["id"])


def test_create_upload_download_list(glance_lib: Lib, payload: Payload, unique: str) -> None:
    client = glance_lib("alpha")
    name = f"lib-{unique}"
    image = client.images.create(name=name, disk_format="raw", container_format="bare", visibility="private")
    assert image["status"] == "queued"
    assert image["size"] is None
    with payload.path.open("rb") as data:
        client.images.upload(image["id"], data, image_size=payload.size)

    shown = client.images.get(image["id"])
    assert shown.request_ids[0].startswith("req-")  # from x-openstack-request-id
    assert shown["status"] == "active"
    assert shown["size"] == payload.size
    assert shown["checksum"] == payload.md5
    assert shown["os_hash_algo"] == "sha512"
    assert shown["os_hash_value"] == payload.sha512
    assert shown["visibility"] == "private"
    assert shown["disk_format"] == "raw"

    md5, sha512, size = hashlib.md5(usedforsecurity=False), hashlib.sha512(), 0
    for chunk in client.images.data(image["id"]):  # the client checks os_hash_value itself at the end
        md5.update(chunk)
        sha512.update(chunk)
        size += len(chunk)
    assert (size, md5.hexdigest(), sha512.hexdigest()) == (payload.size, payload.md5, payload.sha512)

    assert _ids(client.images.list(filters={"name": name})) == [image["id"]]
    assert image["id"] in _ids(client.images.list(filters={"visibility": "private"}))
    assert image["id"] not in _ids(glance_lib("beta").images.list())

    # the data is written once: a second upload is a conflict and changes nothing
    with pytest.raises(exc.HTTPConflict):
        client.images.upload(image["id"], io.BytesIO(b"other data"), image_size=10)
    assert client.images.get(image["id"])["checksum"] == payload.md5


def test_patch_extra_properties(glance_lib: Lib, unique: str) -> None:
    client = glance_lib("alpha")
    image = client.images.create(name=f"lib-props-{unique}", disk_format="raw", container_format="bare", a="1")
    updated = client.images.update(image["id"], b="2", a="one", name=f"lib-renamed-{unique}", min_ram=1024)
    assert (updated["a"], updated["b"], updated["min_ram"]) == ("one", "2", 1024)
    assert updated["name"] == f"lib-renamed-{unique}"
    updated = client.images.update(image["id"], remove_props=["a"], c="3")
    assert "a" not in updated
    assert (updated["b"], updated["c"]) == ("2", "3")
    shown = client.images.get(image["id"])
    assert "a" not in shown
    assert (shown["b"], shown["c"], shown["min_ram"]) == ("2", "3", 1024)
    # a core attribute may not be removed
    with pytest.raises(exc.HTTPForbidden):
        client.images.update(image["id"], remove_props=["min_ram"])
    assert client.images.get(image["id"])["min_ram"] == 1024


def test_deactivated_data_is_for_admins_only(glance_lib: Lib, unique: str) -> None:
    alpha, admin = glance_lib("alpha"), glance_lib("admin")
    data = b"deactivate me " * 100
    image_id = _small_image(alpha, f"lib-deact-{unique}", data)
    alpha.images.deactivate(image_id)
    assert alpha.images.get(image_id)["status"] == "deactivated"
    with pytest.raises(exc.HTTPForbidden):
        b"".join(alpha.images.data(image_id))
    assert b"".join(admin.images.data(image_id)) == data
    alpha.images.deactivate(image_id)  # deactivating twice is fine
    alpha.images.reactivate(image_id)
    assert b"".join(alpha.images.data(image_id)) == data
    alpha.images.delete(image_id)
    with pytest.raises(exc.HTTPNotFound):
        alpha.images.get(image_id)
    with pytest.raises(exc.HTTPNotFound):
        b"".join(admin.images.data(image_id))


def test_members_accept_and_reject(glance_lib: Lib, unique: str) -> None:
    alpha, beta = glance_lib("alpha"), glance_lib("beta")
    data = b"shared image data " * 1000
    image_id = _small_image(alpha, f"lib-shared-{unique}", data, visibility="shared", tags=[unique])

    def mine(**more: str) -> dict[str, Any]:  # a new dict each time: glanceclient pops "tag" from `filters`
        return {"tag": [unique], **more}

    member = alpha.image_members.create(image_id, "beta")
    assert (member["member_id"], member["image_id"], member["status"]) == ("beta", image_id, "pending")
    with pytest.raises(exc.HTTPConflict):
        alpha.image_members.create(image_id, "beta")

    # pending: beta can look the image up, but its default list leaves it out
    assert beta.images.get(image_id)["id"] == image_id
    assert _ids(beta.images.list(filters=mine())) == []
    assert _ids(beta.images.list(filters=mine(member_status="pending", visibility="shared"))) == [image_id]
    assert _ids(beta.images.list(filters=mine(member_status="all"))) == [image_id]

    # only the member decides its status, only the owner adds members
    with pytest.raises(exc.HTTPForbidden):
        alpha.image_members.update(image_id, "beta", "accepted")
    with pytest.raises(exc.HTTPForbidden):
        beta.image_members.create(image_id, "gamma")

    accepted = beta.image_members.update(image_id, "beta", "accepted")
    assert accepted["status"] == "accepted"
    assert _ids(beta.images.list(filters=mine())) == [image_id]
    assert b"".join(beta.images.data(image_id)) == data
    assert [(m["member_id"], m["status"]) for m in alpha.image_members.list(image_id)] == [("beta", "accepted")]
    assert [m["member_id"] for m in beta.image_members.list(image_id)] == ["beta"]

    rejected = beta.image_members.update(image_id, "beta", "rejected")
    assert rejected["status"] == "rejected"
    assert _ids(beta.images.list(filters=mine())) == []
    assert _ids(beta.images.list(filters=mine(member_status="rejected"))) == [image_id]
    assert [(m["member_id"], m["status"]) for m in alpha.image_members.list(image_id)] == [("beta", "rejected")]

    alpha.image_members.delete(image_id, "beta")
    assert list(alpha.image_members.list(image_id)) == []
    with pytest.raises(exc.HTTPNotFound):
        beta.images.get(image_id)

    # members are for shared images only
    private_id = _small_image(alpha, f"lib-private-{unique}", b"x", visibility="private")
    with pytest.raises(exc.HTTPForbidden):
        alpha.image_members.create(private_id, "beta")


def _follow_next(client: Any, first: str) -> list[list[dict[str, Any]]]:
    """GET a list URL, then every `next` link it leads to; the pages in order."""
    pages, url = [], first
    while url:
        _, body = client.http_client.get(url)
        pages.append(body["images"])
        url = body.get("next")
        assert len(pages) <= PAGING_COUNT, "the next links do not end"
    return pages


def test_paging_by_next_links(glance_lib: Lib, paging_set: PagingSet) -> None:
    client = glance_lib("alpha")
    query = urlencode([("tag", paging_set.tag), ("limit", "23"), ("sort_key", "name"), ("sort_dir", "asc")])
    pages = _follow_next(client, f"/v2/images?{query}")
    assert all(len(page) == 23 for page in pages[:-1])
    assert 0 < len(pages[-1]) <= 23
    ids = [image["id"] for page in pages for image in page]
    assert len(ids) == len(set(ids)) == PAGING_COUNT
    assert set(ids) == paging_set.ids
    names = [image["name"] for page in pages for image in page]
    assert names == sorted(names)

    # the default order: newest first, across pages of the client's own paging
    listed = list(client.images.list(filters={"tag": [paging_set.tag]}, page_size=37))
    assert len(_ids(listed)) == len(set(_ids(listed))) == PAGING_COUNT
    created = [image["created_at"] for image in listed]
    assert created == sorted(created, reverse=True)


def test_sort_on_two_keys_across_pages(glance_lib: Lib, paging_set: PagingSet) -> None:
    listed = list(
        glance_lib("alpha").images.list(
            filters={"tag": [paging_set.tag]}, sort="name:desc,created_at:asc", page_size=30
        )
    )
    assert len(listed) == len(set(_ids(listed))) == PAGING_COUNT
    assert set(_ids(listed)) == paging_set.ids
    names = [image["name"] for image in listed]
    assert names == sorted(names, reverse=True)
    for previous, current in itertools.pairwise(listed):
        if previous["name"] == current["name"]:
            assert previous["created_at"] <= current["created_at"]


def test_limit_stops_early(glance_lib: Lib, paging_set: PagingSet) -> None:
    client = glance_lib("alpha")
    everything = _ids(client.images.list(filters={"tag": [paging_set.tag]}, sort_key="name", sort_dir="desc"))
    first_40 = _ids(client.images.list(filters={"tag": [paging_set.tag]}, sort_key="name", sort_dir="desc", limit=40))
    assert first_40 == everything[:40]
    _, body = client.http_client.get(f"/v2/images?{urlencode([('tag', paging_set.tag), ('limit', '1000')])}")
    assert len(body["images"]) == PAGING_COUNT
    assert "next" not in body


def test_filters(glance_lib: Lib, paging_set: PagingSet) -> None:
    client = glance_lib("alpha")
    tag = [paging_set.tag]
    name = f"pg-{paging_set.batch}-3"
    by_name = set(_ids(client.images.list(filters={"name": name})))
    assert by_name == {i for i, n in paging_set.names.items() if n == name}
    assert len(by_name) == PAGING_COUNT // 10

    both = f"in:pg-{paging_set.batch}-1,pg-{paging_set.batch}-2"
    in_names = set(_ids(client.images.list(filters={"name": both, "tag": tag})))
    assert in_names == {i for i, n in paging_set.names.items() if n[-2:] in ("-1", "-2")}

    even = set(_ids(client.images.list(filters={"e2e_parity": "even", "e2e_batch": paging_set.batch})))
    assert even == {i for i, p in paging_set.parity.items() if p == "even"}
    assert len(even) == PAGING_COUNT // 2

    odd_named = set(_ids(client.images.list(filters={"e2e_parity": "odd", "name": name, "tag": tag})))
    assert odd_named == by_name & {i for i, p in paging_set.parity.items() if p == "odd"}
    assert odd_named  # names ending in 3 come from odd indexes

    assert _ids(client.images.list(filters={"tag": [paging_set.tag, "no-such-tag"]})) == []
    assert _ids(client.images.list(filters={"e2e_parity": "neither", "tag": tag})) == []
    # another project sees none of them
    assert _ids(glance_lib("beta").images.list(filters={"tag": tag})) == []
    # a bad sort key or limit is the client's error: 400
    with pytest.raises(exc.HTTPBadRequest):
        client.http_client.get(f"/v2/images?{urlencode([('tag', paging_set.tag), ('sort_key', 'no_such_key')])}")
    with pytest.raises(exc.HTTPBadRequest):
        client.http_client.get(f"/v2/images?{urlencode([('tag', paging_set.tag), ('limit', '-1')])}")
