"""Schemathesis generates requests from /openapi.json and sends them to a live server with a valid token.

Promise under test: no 5xx, ever, and every response matches the description (status codes, content
types, JSON bodies). The budget is bounded for CI (GLIMPSE_FUZZ_EXAMPLES per operation, default 100: `make test`
runs it once on SQLite and once on PostgreSQL, each pass drawing its own random examples, so a CI run sends about
200 per operation; about half of the time is Hypothesis generating them); `make fuzz` runs a longer campaign
(3,000 per operation).
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from glimpse.api.openapi import build_openapi
from glimpse.services.schemas import Schemas
from glimpse.settings import load_settings
from tests.fuzz.conftest import LiveServer

EXAMPLES = int(os.environ.get("GLIMPSE_FUZZ_EXAMPLES", "100"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


# Glance's JSON-patch media types are JSON on the wire
schemathesis.serializer.alias("application/openstack-images-v2.1-json-patch", "application/json")

# the same document the server serves at /openapi.json (tests/functional checks they are equal)
schema = schemathesis.openapi.from_dict(build_openapi(Schemas(load_settings(env={}))))


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_responses_match_the_description(case: schemathesis.Case, live_server: LiveServer) -> None:
    case.call_and_validate(base_url=live_server.url, headers={"X-Auth-Token": live_server.token}, checks=CHECKS)
