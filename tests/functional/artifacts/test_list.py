"""Listing: filters with combiners and operators, tags, dict keys, sort, pages, total_count, version=latest."""

from __future__ import annotations

from typing import Any

from tests.functional.artifacts.conftest import ADMIN, USER1, USER2, Api

URL = "/artifacts/sample_artifact"


def names(body: dict[str, Any]) -> list[str]:
    return [item["name"] for item in body["artifacts"]]


def seed(api: Api) -> None:
    for index in range(5):
        api.create(
            {
                "name": f"n{index}",
                "version": f"1.{index}",
                "int1": index,
                "float1": index / 2,
                "str1": f"s{index % 2}",
                "bool1": index % 2 == 0,
                "tags": [f"t{index % 3}", "all"],
                "list_of_int": [index, 10],
                "dict_of_str": {f"k{index}": "v", "common": f"c{index % 2}"},
            }
        )


def test_operators(api: Api) -> None:
    seed(api)
    assert sorted(names(api.get(f"{URL}?int1=gt:2"))) == ["n3", "n4"]
    assert sorted(names(api.get(f"{URL}?int1=lte:1"))) == ["n0", "n1"]
    assert sorted(names(api.get(f"{URL}?int1=neq:1&int1=neq:2"))) == ["n0", "n3", "n4"]
    assert sorted(names(api.get(f"{URL}?int1=in:1,3"))) == ["n1", "n3"]
    assert sorted(names(api.get(f"{URL}?float1=gte:1.5"))) == ["n3", "n4"]
    assert sorted(names(api.get(f"{URL}?str1=s1"))) == ["n1", "n3"]
    assert sorted(names(api.get(f"{URL}?str1=like:s%"))) == ["n0", "n1", "n2", "n3", "n4"]
    assert sorted(names(api.get(f"{URL}?bool1=true"))) == ["n0", "n2", "n4"]
    assert sorted(names(api.get(f"{URL}?name=in:n0,n4"))) == ["n0", "n4"]
    assert sorted(names(api.get(f"{URL}?version=gte:1.3"))) == ["n3", "n4"]
    assert sorted(names(api.get(f"{URL}?version=1.2.0"))) == ["n2"]
    assert sorted(names(api.get(f"{URL}?list_of_int=3"))) == ["n3"]
    assert len(names(api.get(f"{URL}?list_of_int=in:10"))) == 5
    assert sorted(names(api.get(f"{URL}?dict_of_str=k1"))) == ["n1"]
    assert sorted(names(api.get(f"{URL}?dict_of_str=in:k1,k2"))) == ["n1", "n2"]
    assert sorted(names(api.get(f"{URL}?dict_of_str.common=c1"))) == ["n1", "n3"]


def test_combiners_and_tags(api: Api) -> None:
    seed(api)
    assert sorted(names(api.get(f"{URL}?int1=or:0&int1=or:4"))) == ["n0", "n4"]
    assert sorted(names(api.get(f"{URL}?str1=s0&int1=or:gt:3&int1=or:lt:1"))) == ["n0", "n4"]
    assert sorted(names(api.get(f"{URL}?tags=t1"))) == ["n1", "n4"]
    assert sorted(names(api.get(f"{URL}?tags=t1,all"))) == ["n1", "n4"]
    assert sorted(names(api.get(f"{URL}?tags=t1,t2"))) == []
    assert sorted(names(api.get(f"{URL}?tags-any=t1,t2"))) == ["n1", "n2", "n4"]


def test_refused_filters(api: Api) -> None:
    for query in (
        "int1=like:1", "bool1=gt:true", "description=x", "nope=1", "int1=abc", "str1.key=1", "int1=in:\"1",
        "tags=eq:x", "dict_of_str=gt:k", "sort=nope", "sort=list_of_str", "sort=name:up", "limit=x", "limit=-1",
    ):  # fmt: skip
        assert api.get(f"{URL}?{query}", 400)["error"]["type"] == "BadRequest", query


def test_sort_pages_and_total(api: Api) -> None:
    seed(api)
    first = api.get(f"{URL}?sort=int1:asc&limit=2")
    assert names(first) == ["n0", "n1"]
    assert first["total_count"] == 5
    assert first["first"] == "/artifacts/sample_artifact?sort=int1%3Aasc&limit=2"
    assert first["schema"] == "/schemas/sample_artifact"
    second = api.get(first["next"])
    assert names(second) == ["n2", "n3"]
    third = api.get(second["next"])
    assert names(third) == ["n4"]
    assert "next" not in third
    assert names(api.get(f"{URL}?sort=version:desc&limit=2")) == ["n4", "n3"]
    assert names(api.get(f"{URL}?sort=str1:asc,int1:desc")) == ["n4", "n2", "n0", "n3", "n1"]
    assert names(api.get(f"{URL}?sort=name")) == ["n4", "n3", "n2", "n1", "n0"]  # desc by default
    api.get(f"{URL}?marker=00000000-0000-4000-8000-000000000000", 404)


def test_latest_version_of_each_name(api: Api) -> None:
    for version in ("1.0.0", "2.0.0-beta", "2.0.0", "1.5.0"):
        api.create({"name": "x", "version": version})
    api.create({"name": "y", "version": "0.1.0-alpha"})
    api.create({"name": "y", "version": "0.1.0-alpha.2"})
    latest = api.get(f"{URL}?version=latest&sort=name:asc")
    assert [(item["name"], item["version"]) for item in latest["artifacts"]] == [("x", "2.0.0"), ("y", "0.1.0-alpha.2")]
    assert latest["total_count"] == 2


def test_only_own_and_public_unless_admin(api: Api) -> None:
    api.create({"name": "mine"})
    api.create({"name": "theirs"}, user=USER2)
    assert names(api.get(URL)) == ["mine"]
    assert names(api.get(URL, user=USER2)) == ["theirs"]
    assert sorted(names(api.get(URL, user=ADMIN))) == ["mine", "theirs"]
    api.create({"name": "img", "container_format": "bare", "disk_format": "raw"}, kind="images")
    everything = api.get("/artifacts/all?sort=name:asc", user=USER1)
    assert [(item["name"], item["type_name"]) for item in everything["artifacts"]] == [
        ("img", "images"),
        ("mine", "sample_artifact"),
    ]
    assert sorted(names(api.get("/artifacts/all?type_name=images"))) == ["img"]
    assert USER1["X-Project-Id"] == "p1"
