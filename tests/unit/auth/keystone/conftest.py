"""The harness fixture of the Keystone authenticator's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.auth.keystone.support import Harness, run


@pytest.fixture
def h() -> Iterator[Harness]:
    harness = Harness()
    yield harness
    run(harness.auth.aclose())
