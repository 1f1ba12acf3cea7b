"""jsontext: compact JSON whose values are the standard library's, whatever orjson refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from glimpse.domain import jsontext

VALUES: list[Any] = [
    {"id": "3f0c", "name": "ünïcode ✓", "size": None, "protected": False, "min_disk": 0, "tags": ["a", "b"]},
    {"properties": {"os_hidden": False, "x": "line\nbreak \"quoted\" \\ back"}, "ratio": 0.1, "big": 2**63 - 1},
    [1, 2.5, -3, True, None, "\u0000\u001f"],
    {"nested": {"deeper": [{"k": 1e16}, {"k": -1e-7}]}},
]


@pytest.mark.parametrize("value", VALUES)
def test_round_trips_and_reads_back_with_the_standard_library(value: Any) -> None:
    text = jsontext.dumps(value)
    assert json.loads(text) == value
    assert jsontext.loads(text) == value
    assert jsontext.loads(text.encode()) == value


def test_compact_and_utf8_as_the_webhooks_wrote_it() -> None:
    value = {"a": [1, "é"], "b": {"c": None}}
    assert jsontext.dumps(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def test_what_orjson_refuses_is_encoded_by_the_standard_library() -> None:
    huge = {"n": 2**70, 3: "non-string key"}
    text = jsontext.dumps(huge)
    assert json.loads(text) == {"n": 2**70, "3": "non-string key"}


def test_what_nothing_encodes_still_fails() -> None:
    with pytest.raises(TypeError):
        jsontext.dumps({"x": object()})
