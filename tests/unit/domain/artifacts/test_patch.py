from __future__ import annotations

import pytest

from glimpse.domain.artifacts import patch
from glimpse.errors import BadRequest


def test_operations() -> None:
    doc = {"a": [1, 2], "b": {"x": 1}, "c": "s"}
    ops = patch.parse(
        [{"op": "add", "path": "/a/-", "value": 3}, {"op": "remove", "path": "/b/x"},
         {"op": "replace", "path": "/c", "value": "t"},
         {"op": "copy", "from": "/c", "path": "/b/y"}, {"op": "move", "from": "/a/0", "path": "/a/1"},
         {"op": "test", "path": "/c", "value": "t"}]
    )  # fmt: skip
    for operation in ops:
        doc = patch.apply(doc, operation)
    assert doc == {"a": [2, 1, 3], "b": {"y": "t"}, "c": "t"}


@pytest.mark.parametrize(
    "body",
    [{}, [{"op": "add"}], [{"op": "add", "path": "/a"}], [{"op": "jump", "path": "/a"}], [{"op": "move", "path": "/a"}],
     [{"op": "remove", "path": "a"}]],
)  # fmt: skip
def test_malformed(body: object) -> None:
    with pytest.raises(BadRequest):
        patch.parse(body)


def test_failing_operations() -> None:
    for raw in ({"op": "remove", "path": "/zz"}, {"op": "replace", "path": "/a/5", "value": 1},
                {"op": "test", "path": "/c", "value": "other"}, {"op": "add", "path": "/a/x", "value": 1}):  # fmt: skip
        with pytest.raises(BadRequest):
            patch.apply({"a": [1], "c": "s"}, patch.parse([raw])[0])
