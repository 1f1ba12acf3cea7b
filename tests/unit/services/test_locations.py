"""glimpse.services.locations: the request body and the URLs shown in messages."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from glimpse.errors import BadRequest
from glimpse.services.locations import Validation, _image_ids_in, parse_request, shown
from glimpse.settings import HASH_ALGORITHMS


@pytest.mark.parametrize("algorithm", HASH_ALGORITHMS)
def test_validation_data_of_every_algorithm(algorithm: str) -> None:
    digest = hashlib.new(algorithm, b"data").hexdigest()
    body = {"url": "file:///x", "validation_data": {"os_hash_algo": algorithm, "os_hash_value": digest.upper()}}
    assert parse_request(body) == ("file:///x", Validation(algorithm, digest))


def test_empty_validation_data_is_none() -> None:
    assert parse_request({"url": "u"}) == ("u", None)
    assert parse_request({"url": "u", "validation_data": {}}) == ("u", None)
    assert parse_request({"url": "u", "validation_data": None}) == ("u", None)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "needs a 'url'"),
        ({"url": None}, "needs a 'url'"),
        ({"url": "x" * 256}, "longer than 255"),
        ({"url": "u", "metadata": {}}, "Unknown attribute"),
        ({"url": "u", "validation_data": []}, "must be an object"),
        ({"url": "u", "validation_data": {"os_hash_algo": "md5"}}, "both"),
        ({"url": "u", "validation_data": {"checksum": "x"}}, "Unknown attribute"),
        ({"url": "u", "validation_data": {"os_hash_algo": 5, "os_hash_value": "ab"}}, "one of"),
        ({"url": "u", "validation_data": {"os_hash_algo": "md5", "os_hash_value": "ab"}}, "32 hexadecimal"),
        ({"url": "u", "validation_data": {"os_hash_algo": "md5", "os_hash_value": "g" * 32}}, "32 hexadecimal"),
        ({"url": "u", "validation_data": {"os_hash_algo": "md5", "os_hash_value": 1}}, "32 hexadecimal"),
    ],
)
def test_bad_requests(body: dict[str, Any], message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse_request(body)


def test_shown_urls_carry_no_credentials() -> None:
    assert shown("swift+https://user:secret@swift.example.com:8080/v1/c/o?temp_url_sig=x") == (
        "swift+https://swift.example.com:8080/v1/c/o?..."
    )
    assert shown("file:///srv/images/x") == "file:///srv/images/x"
    assert shown("http://[::1]:8080/x") == "http://[::1]:8080/x"
    assert shown("http://h:99999/x") == "<invalid URL>"


def test_image_ids_in_urls() -> None:
    image = "0b0f7c1e-6d3a-4a8c-9e3e-2f7b4e1c5a90"
    assert _image_ids_in(f"file:///srv/images/{image}") == {image}
    assert _image_ids_in(f"rbd://fsid/images/{image}/snap") == {image}
    assert _image_ids_in("file:///srv/images/cirros.img") == set()

