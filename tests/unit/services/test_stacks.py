"""The pieces of a launch that need no Heat: templates read as Heat reads them, parameters from the form, stack
names Heat accepts, and the tags that tie a stack to its asset (commas escaped, Heat's 80-character limit kept)."""

from __future__ import annotations

import re

import pytest

from glimpse.errors import BadRequest
from glimpse.services.stacks import MARKER_TAG, asset_tags, default_name, parse_document, parse_parameters, read_tags

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
