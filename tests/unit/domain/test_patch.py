"""glimpse.domain.patch: both JSON-patch dialects normalised to PatchOp."""

from __future__ import annotations

from typing import Any

import pytest

from glimpse.domain.patch import MEDIA_TYPE_20, MEDIA_TYPE_21, MEDIA_TYPES, PatchOp, parse_patch
from glimpse.errors import BadRequest


def test_media_types() -> None:
    assert MEDIA_TYPE_21 == "application/openstack-images-v2.1-json-patch"
    assert MEDIA_TYPE_20 == "application/openstack-images-v2.0-json-patch"
    assert set(MEDIA_TYPES) == {MEDIA_TYPE_20, MEDIA_TYPE_21}


def test_v21_operations() -> None:
    ops = parse_patch(
        [
            {"op": "add", "path": "/a", "value": "1"},
            {"op": "replace", "path": "/name", "value": None},
            {"op": "remove", "path": "/b"},
        ],
        MEDIA_TYPE_21,
    )
    assert ops == [
        PatchOp("add", ("a",), "1"),
        PatchOp("replace", ("name",), None),
        PatchOp("remove", ("b",), None),
    ]


def test_v20_operations() -> None:
    ops = parse_patch(
        [{"add": "/a", "value": "1"}, {"replace": "/tags", "value": ["x"]}, {"remove": "/b"}], MEDIA_TYPE_20
    )
    assert ops == [
        PatchOp("add", ("a",), "1"),
        PatchOp("replace", ("tags",), ["x"]),
        PatchOp("remove", ("b",), None),
    ]


def test_empty_patch() -> None:
    assert parse_patch([], MEDIA_TYPE_21) == []


def test_pointer_escapes() -> None:
    assert parse_patch([{"op": "remove", "path": "/a~1b"}], MEDIA_TYPE_21)[0].path == ("a/b",)
    assert parse_patch([{"op": "remove", "path": "/a~0b"}], MEDIA_TYPE_21)[0].path == ("a~b",)
    assert parse_patch([{"op": "remove", "path": "/~01"}], MEDIA_TYPE_21)[0].path == ("~1",)


def test_locations_paths_may_be_nested_once() -> None:
    ops = parse_patch([{"op": "add", "path": "/locations/-", "value": {}}], MEDIA_TYPE_21)
    assert ops[0].path == ("locations", "-")
    ops = parse_patch([{"op": "remove", "path": "/locations/0"}], MEDIA_TYPE_21)
    assert ops[0].path == ("locations", "0")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"op": "add"}, "Request body must be a JSON array of operation objects."),
        ("add", "Request body must be a JSON array of operation objects."),
        (["add"], "Operations must be JSON objects."),
        ([{"op": "move", "path": "/a", "value": "v"}], "Invalid operation: `move`"),
        ([{"op": "copy", "path": "/a", "from": "/b"}], "Invalid operation"),
        ([{"op": "test", "path": "/a", "value": "v"}], "Invalid operation"),
        ([{"path": "/a", "value": "v"}], "Invalid operation"),
        ([{"op": "add", "path": "/a"}], 'Operation "add" requires a member named "value".'),
        ([{"op": "replace", "path": "/a"}], 'Operation "replace" requires a member named "value".'),
        ([{"op": "add", "path": "a", "value": "v"}], "does not start with"),
        ([{"op": "add", "path": "/", "value": "v"}], "does not start with"),
        ([{"op": "add", "path": "", "value": "v"}], "does not start with"),
        ([{"op": "add", "path": 5, "value": "v"}], "does not start with"),
        ([{"op": "add", "value": "v"}], "does not start with"),
        ([{"op": "add", "path": "/a/b", "value": "v"}], "Invalid JSON pointer for this resource: '/a/b'"),
        ([{"op": "add", "path": "/locations/0/url", "value": "v"}], "Invalid JSON pointer for this resource"),
        ([{"op": "add", "path": "/locations", "value": []}], "Invalid JSON pointer for this resource: '/locations'"),
        ([{"op": "remove", "path": "/locations"}], "Invalid JSON pointer for this resource: '/locations'"),
        ([{"op": "replace", "path": "/locations/0", "value": {}}], "Invalid JSON pointer for this resource"),
        ([{"op": "add", "path": "/a~2", "value": "v"}], "recognized escape sequence"),
        ([{"op": "add", "path": "/a~", "value": "v"}], "recognized escape sequence"),
    ],
)
def test_v21_errors(body: Any, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_patch(body, MEDIA_TYPE_21)
    assert message in caught.value.message


@pytest.mark.parametrize(
    "body",
    [
        [{"op": "add", "path": "/a", "value": "v"}],
        [{"add": "/a", "replace": "/b", "value": "v"}],
        [{"value": "v"}],
        [{"add": "/a"}],
        [{"replace": "a", "value": "v"}],
        [{"remove": "/a/b"}],
    ],
)
def test_v20_errors(body: Any) -> None:
    with pytest.raises(BadRequest):
        parse_patch(body, MEDIA_TYPE_20)


def test_v20_names_one_operation() -> None:
    with pytest.raises(BadRequest, match='exactly one member named "add", "remove", or "replace"'):
        parse_patch([{"add": "/a", "remove": "/b", "value": "v"}], MEDIA_TYPE_20)
