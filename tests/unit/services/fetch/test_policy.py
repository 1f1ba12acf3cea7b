"""glimpse.services.fetch.policy: a FetchPolicy's entries are validated when it is made."""

from __future__ import annotations

import pytest

from glimpse.services.fetch import FetchPolicy, check_url


def test_policy_entries_are_validated() -> None:
    with pytest.raises(ValueError, match="allowed_hosts"):
        FetchPolicy(allowed_hosts=("not a host",))
    with pytest.raises(ValueError, match="allowed_ports"):
        FetchPolicy(allowed_ports=(0,))
    with pytest.raises(ValueError, match="max_redirects"):
        FetchPolicy(max_redirects=-1)
    policy = FetchPolicy(allowed_schemes=["HTTPS"], allowed_hosts=["[::1]", "Images.Example."])  # type: ignore[arg-type]
    assert policy.allowed_schemes == ("https",)
    check_url("https://images.example/", policy)
