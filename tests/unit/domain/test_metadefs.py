"""Pure metadef rules: visibility, prefixes, tag names, listing parameters."""

from datetime import datetime

import pytest

from glimpse.domain.metadefs import (
    Association,
    MetadefObject,
    Namespace,
    check_unique_tags,
    parse_limit,
    parse_resource_types,
    parse_sort,
    parse_visibility,
    prefixed,
    prefixed_object,
)
from glimpse.errors import BadRequest, Conflict

NOW = datetime(2026, 1, 1)


def namespace(visibility: str = "private", owner: str = "alpha") -> Namespace:
    associations = [Association("OS::Glance::Image", "hw_"), Association("OS::Cinder::Volume")]
    return Namespace("N", None, None, visibility, False, owner, NOW, NOW, associations=associations)


def test_visibility() -> None:
    assert namespace().visible_to("alpha", False)
    assert not namespace().visible_to("beta", False)
    assert not namespace().visible_to(None, False)
    assert namespace().visible_to("beta", True)
    assert namespace("public").visible_to(None, False)


def test_prefix_for_resource_type() -> None:
    ns = namespace()
    assert ns.prefix_for("OS::Glance::Image") == "hw_"
    assert ns.prefix_for("OS::Cinder::Volume") is None
    assert ns.prefix_for("OS::Nova::Server") is None
    assert ns.prefix_for(None) is None


def test_prefixing_properties_and_objects() -> None:
    assert prefixed({"a": 1}, "hw_") == {"hw_a": 1}
    assert prefixed({"a": 1}, None) == {"a": 1}
    obj = MetadefObject("o", None, ["a"], {"a": {"type": "string"}}, NOW, NOW)
    out = prefixed_object(obj, "x:")
    assert out.required == ["x:a"]
    assert list(out.properties) == ["x:a"]
    assert prefixed_object(obj, None) is obj


def test_tag_names_are_unique_regardless_of_case() -> None:
    check_unique_tags(["a", "b"], "N")
    with pytest.raises(Conflict, match="name=A already exists in namespace=N"):
        check_unique_tags(["a", "A"], "N")


def test_listing_parameters() -> None:
    assert parse_sort(None, None, ("created_at",)) == ("created_at", "desc")
    with pytest.raises(BadRequest, match="Invalid sort direction: up"):
        parse_sort(None, "up", ("created_at",))
    with pytest.raises(BadRequest, match="Invalid sort key: x"):
        parse_sort("x", "asc", ("created_at",))
    assert parse_limit(None, 25, 10) == 10
    assert parse_limit("5", 25, 10) == 5
    assert parse_limit("50", 25, 10) == 10
    with pytest.raises(BadRequest, match="must be an integer"):
        parse_limit("five", 25, 10)
    with pytest.raises(BadRequest, match="must be positive"):
        parse_limit("-2", 25, 10)
    assert parse_visibility("") is None
    assert parse_visibility("public") == "public"
    with pytest.raises(BadRequest, match="Invalid visibility value: community"):
        parse_visibility("community")
    assert parse_resource_types("A, B,,") == ["A", "B"]
    assert parse_resource_types(None) == []
