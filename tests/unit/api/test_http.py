"""``parse_json``: the one parser of request bodies, with its nesting limit."""

from __future__ import annotations

import json

import pytest

from glimpse.api.http import MAX_JSON_DEPTH, parse_json
from glimpse.errors import BadRequest


def arrays(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_nesting_up_to_the_limit_parses() -> None:
    value = parse_json(arrays(MAX_JSON_DEPTH))
    for _ in range(MAX_JSON_DEPTH - 1):
        (value,) = value
    assert value == []


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 1_000_000])
def test_nesting_past_the_limit_is_a_bad_request(depth: int) -> None:
    with pytest.raises(BadRequest, match="nested deeper than 64 levels"):
        parse_json(arrays(depth))


def test_objects_and_arrays_count_alike() -> None:
    body = b'{"a":' * MAX_JSON_DEPTH + b"[]" + b"}" * MAX_JSON_DEPTH
    with pytest.raises(BadRequest, match="nested deeper"):
        parse_json(body)
    assert parse_json(b'{"a":' * (MAX_JSON_DEPTH - 1) + b"[]" + b"}" * (MAX_JSON_DEPTH - 1))


def test_brackets_inside_strings_do_not_count() -> None:
    text = '[\\"' + "[{" * 1_000
    body = json.dumps({"name": text, "escaped": 'a\\"[[[', "more": ["]]]", "{{{"]}).encode()
    assert parse_json(body)["name"] == text


def test_siblings_do_not_add_up() -> None:
    body = b"[" + b",".join([arrays(MAX_JSON_DEPTH - 1)] * 500) + b"]"
    assert len(parse_json(body)) == 500


def test_utf16_and_utf32_bodies_parse_as_json_loads_detects_them() -> None:
    for encoding in ("utf-16", "utf-32"):
        assert parse_json('{"name": "[é]"}'.encode(encoding)) == {"name": "[é]"}


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"a": "unterminated [[[', b"\xff\xfe\xfd", b'{"a": 1}}', b"[" * 10],
)
def test_malformed_bodies_are_bad_requests(body: bytes) -> None:
    with pytest.raises(BadRequest, match="Malformed JSON in request body"):
        parse_json(body)


def test_text_no_database_can_store_is_refused() -> None:
    with pytest.raises(BadRequest, match="NUL"):
        parse_json(b'{"name": "a\\u0000b"}')
    with pytest.raises(BadRequest, match="UTF-8"):
        parse_json(b'{"name": "\\ud800"}')
