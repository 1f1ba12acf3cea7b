"""Deeply nested JSON bodies against a live server: arrays and objects mixed, siblings, strings full of
brackets and escaped quotes, whitespace, nested from 1 to 5,000 levels.

Promise under test: every JSON endpoint answers (no 5xx, no dropped connection); a body nested deeper than
``MAX_JSON_DEPTH`` is a 400 naming the limit, whoever sends it; shallower bodies reach the handlers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from glimpse.api.http import MAX_JSON_DEPTH
from glimpse.settings import load_settings
from tests.fuzz.conftest import LiveServer

EXAMPLES = int(os.environ.get("GLIMPSE_FUZZ_EXAMPLES", "150"))
LIMIT = load_settings(env={}).max_request_body_size  # the live server's: larger bodies are a 413
TOO_DEEP = f"nested deeper than {MAX_JSON_DEPTH} levels"

# strings that would fool a scanner counting brackets naively
TRICKY_STRINGS = st.text(alphabet='[]{}"\\ab:,é', max_size=12).map(json.dumps)
SPACE = st.sampled_from(["", " ", "\n", "\t "])


@dataclass(frozen=True)
class Body:
    depth: int
    raw: bytes

    def __repr__(self) -> str:  # a failing example is reported by its shape, not 100 kB of brackets
        return f"Body(depth={self.depth}, {len(self.raw)} bytes, starts {self.raw[:60]!r})"


@st.composite
def nested_bodies(draw: st.DrawFn) -> Body:
    """A valid JSON document and how deep its arrays and objects nest."""
    depth = draw(st.one_of(st.integers(1, MAX_JSON_DEPTH + 2), st.integers(1, 5_000)))
    pattern = draw(st.lists(st.sampled_from(["[", "{"]), min_size=1, max_size=8))
    sibling = draw(st.one_of(st.none(), TRICKY_STRINGS))
    space = draw(SPACE)
    opening, closing = [], []
    for level in range(depth):
        kind = pattern[level % len(pattern)]
        prefix = f"{sibling}," if sibling is not None and level % 7 == 0 else ""
        if kind == "[":
            opening.append(f"[{space}{prefix}")
            closing.append("]")
        else:
            key = sibling if sibling is not None else '"k"'
            opening.append(f'{{{space}{key}:{space}' if not prefix else f'{{{space}"s":{sibling},{key}:')
            closing.append("}")
    leaf = draw(st.sampled_from(["1", "null", '"x"', "[]", "{}"]))
    text = "".join(opening) + leaf + "".join(reversed(closing))
    return Body(depth + (leaf in ("[]", "{}")), text.encode())


def measured_depth(value: object) -> int:
    """How deep a parsed document nests (for the generator's own check, on shallow documents)."""
    if isinstance(value, list):
        return 1 + max(map(measured_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(measured_depth, value.values()), default=0)
    return 0


@pytest.fixture(scope="module")
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, headers={"X-Auth-Token": live_server.token}, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def image_id(http: httpx.Client) -> str:
    response = http.post("/v2/images", json={"name": "target", "visibility": "shared"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def endpoints(image_id: str) -> list[tuple[str, str, str]]:
    json_type = "application/json"
    return [
        ("POST", "/v2/images", json_type),
        ("PATCH", f"/v2/images/{image_id}", "application/openstack-images-v2.1-json-patch"),
        ("POST", f"/v2/images/{image_id}/members", json_type),
        ("PUT", f"/v2/images/{image_id}/members/fuzz", json_type),
        ("POST", f"/v2/images/{image_id}/import", json_type),
        ("POST", f"/v2/images/{image_id}/locations", json_type),
        ("POST", "/v2/tasks", json_type),
    ]


@given(body=nested_bodies(), which=st.integers(0, 6))
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_deep_json_never_breaks_a_json_endpoint(
    http: httpx.Client, image_id: str, body: Body, which: int
) -> None:
    depth, raw = body.depth, body.raw
    if depth < 500:  # the generator makes valid JSON of the depth it claims
        assert measured_depth(json.loads(raw)) == depth
    method, path, media = endpoints(image_id)[which]
    response = http.request(method, path, content=raw, headers={"content-type": media, "accept": "application/json"})
    assert response.status_code < 500, response.text
    if len(raw) > LIMIT:
        event("larger than the body limit")
        assert response.status_code == 413
    elif depth > MAX_JSON_DEPTH:
        event("too deep")
        assert response.status_code == 400
        assert response.json()["message"] == f"Malformed JSON in request body: {TOO_DEEP}."
    else:
        event("within the limit")
        assert TOO_DEEP not in response.text
