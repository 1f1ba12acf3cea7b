from __future__ import annotations

import pytest

from glimpse.domain.artifacts import quotas as q
from glimpse.errors import Forbidden, OverLimit


def test_configured_lists_both_global_quotas_and_the_types_with_a_limit() -> None:
    assert q.configured(-1, 10, {"images": (3, -1), "heat_templates": (-1, -1), "murano_packages": (1, 2)}) == {
        "max_artifact_number": -1,
        "max_uploaded_data": 10,
        "max_artifact_number:images": 3,
        "max_artifact_number:murano_packages": 1,
        "max_uploaded_data:murano_packages": 2,
    }


def test_quota_names() -> None:
    assert q.is_quota_name("max_artifact_number")
    assert q.is_quota_name("max_uploaded_data:anything")
    assert not q.is_quota_name("max_uploaded_data:")
    assert not q.is_quota_name("image_size_total")
    assert q.parse_quotas([{"project_id": "p", "project_quotas": []}]) == {"p": {}}


def test_count_checks_the_global_quota_first() -> None:
    limits = {"max_artifact_number": 2, "max_artifact_number:images": 1}
    q.check_count(limits, {"heat_templates": 1}, "images")
    with pytest.raises(Forbidden, match=r"global quota limit is 2 artifacts. You have 2"):
        q.check_count(limits, {"images": 1, "heat_templates": 1}, "images")
    with pytest.raises(Forbidden, match=r"artifact type 'images' is 1 artifacts. You have 1"):
        q.check_count(limits, {"images": 1}, "images")
    q.check_count({}, {"images": 10**6}, "images")


def test_data_checks_the_global_quota_first_and_says_what_is_used() -> None:
    limits = {"max_uploaded_data": 100, "max_uploaded_data:images": 50}
    usage = {"max_uploaded_data": 90, "max_uploaded_data:images": 40}
    with pytest.raises(OverLimit, match=r"global quota limit: 100. You have 90 bytes uploaded") as raised:
        q.check_data("p", limits, usage, {"max_uploaded_data:images": 20, "max_uploaded_data": 20})
    assert (raised.value.resource, raised.value.limit, raised.value.usage, raised.value.requested) == (
        "max_uploaded_data", 100, 90, 20,
    )  # fmt: skip
    with pytest.raises(OverLimit, match=r"artifact type 'images': 50. You have 40 bytes uploaded for this type"):
        q.check_data("p", limits, usage, {"max_uploaded_data": 10, "max_uploaded_data:images": 11})
    q.check_data("p", limits, usage, {"max_uploaded_data": 10, "max_uploaded_data:images": 10})
