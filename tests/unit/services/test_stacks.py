"""The pieces of a launch that need no Heat: templates read as Heat reads them, parameters from the form, stack
names Heat accepts, the tags that tie a stack to its asset (commas escaped, Heat's 80-character limit kept), and
Heat's answers as Glimpse's errors."""

from __future__ import annotations

import re

import pytest
from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc

from glimpse.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    GlimpseError,
    NotFound,
    OrchestrationUnavailable,
    Unauthorized,
)
from glimpse.services.stacks import (
    MARKER_TAG,
    asset_tags,
    default_name,
    heat_error,
    parse_document,
    parse_parameters,
    read_tags,
)

HEAT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_.-]{0,254}$")  # the names Heat's API accepts


def test_a_template_keeps_its_version_date_as_text() -> None:
    template = parse_document(b"heat_template_version: 2021-04-16\nresources: {}\nwhen: 2020-01-01 10:00:00\n", "t")
    assert template == {"heat_template_version": "2021-04-16", "resources": {}, "when": "2020-01-01 10:00:00"}
    assert parse_document(b'{"heat_template_version": "2018-08-31"}', "t") == {"heat_template_version": "2018-08-31"}


@pytest.mark.parametrize("text", [b"- a\n- list\n", b"just words", b"a: [unclosed\n", b"!!python/object:os.system {}"])
def test_what_is_not_a_mapping_is_refused(text: bytes) -> None:
    with pytest.raises(BadRequest):
        parse_document(text, "template")


def test_parameters_are_name_value_lines() -> None:
    assert parse_parameters("") == {}
    assert parse_parameters("length = 5\n\n  flavor=m1.small=x \n") == {"length": "5", "flavor": "m1.small=x"}
    for bad in ("length", "=5"):
        with pytest.raises(BadRequest, match="not name=value"):
            parse_parameters(bad)


@pytest.mark.parametrize("asset", ["wordpress", "9 lives & more", "élan", "---", "a" * 400])
def test_default_names_are_names_heat_accepts(asset: str) -> None:
    name = default_name(asset)
    assert HEAT_NAME.match(name), name
    assert default_name(asset) != name  # a new suffix every launch


def test_tags_carry_the_asset_and_come_back() -> None:
    tags = asset_tags("lamp, with commas", "1.0,beta", "0f1e")
    assert tags[0] == MARKER_TAG
    assert all("," not in tag and len(tag) <= 80 for tag in tags)
    assert read_tags(tags) == {"asset": "lamp, with commas", "version": "1.0,beta", "artifact": "0f1e"}
    long = asset_tags("x" * 300, "1", "id")
    assert all(len(tag) <= 80 for tag in long)
    assert read_tags(["other", "glimpse-unknown=1"]) == {"asset": "", "version": "", "artifact": ""}


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, BadRequest), (403, Forbidden), (404, NotFound), (409, Conflict), (401, Unauthorized),
     (500, OrchestrationUnavailable), (503, OrchestrationUnavailable)],
)  # fmt: skip
def test_heats_answers_become_glimpses_errors(status: int, kind: type[GlimpseError]) -> None:
    error = heat_error(sdk_exc.HttpException("Error", http_status=status, details="Stack name is wrong"))
    assert isinstance(error, kind)
    if status != 401:  # an expired token asks to sign in again instead
        assert "Stack name is wrong" in error.message


def test_heat_out_of_reach_or_missing_is_unavailable() -> None:
    assert isinstance(heat_error(ks_exc.ConnectFailure("refused")), OrchestrationUnavailable)
    assert isinstance(heat_error(sdk_exc.EndpointNotFound("none")), OrchestrationUnavailable)
    mine = NotFound("No stack")
    assert heat_error(mine) is mine
    with pytest.raises(KeyError):  # anything else is a bug, raised as it is
        heat_error(KeyError("x"))
