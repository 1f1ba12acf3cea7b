from __future__ import annotations

import pytest

from glimpse.domain.artifacts import lifecycle
from glimpse.domain.artifacts.builtin import SampleArtifact
from glimpse.errors import BadRequest, Forbidden


def test_status_changes() -> None:
    values = {name: "x" for name in SampleArtifact.all_fields()}
    assert lifecycle.check_status_change(SampleArtifact, values, "drafted", "active") == "activate"
    assert lifecycle.check_status_change(SampleArtifact, values, "active", "deactivated") == "deactivate"
    assert lifecycle.check_status_change(SampleArtifact, values, "deactivated", "active") == "reactivate"
    with pytest.raises(Forbidden, match="string_required"):
        lifecycle.check_status_change(SampleArtifact, {**values, "string_required": None}, "drafted", "active")
    for current, target in (
        ("active", "drafted"),
        ("drafted", "deactivated"),
        ("active", "deleted"),
        ("deleted", "active"),
    ):
        with pytest.raises(Forbidden):
            lifecycle.check_status_change(SampleArtifact, values, current, target)
    with pytest.raises(BadRequest):
        lifecycle.check_status_change(SampleArtifact, values, "drafted", "gone")


def test_visibility_and_changes() -> None:
    assert lifecycle.check_visibility_change("active", "private", "public") == "publish"
    with pytest.raises(Forbidden):
        lifecycle.check_visibility_change("drafted", "private", "public")
    with pytest.raises(Forbidden):
        lifecycle.check_visibility_change("active", "public", "private")
    lifecycle.check_change_allowed(SampleArtifact, "active", "string_mutable")
    for status, name in (("active", "int1"), ("deactivated", "string_mutable"), ("drafted", "id")):
        with pytest.raises(Forbidden):
            lifecycle.check_change_allowed(SampleArtifact, status, name)
    with pytest.raises(BadRequest):
        lifecycle.check_change_allowed(SampleArtifact, "drafted", "nope")
