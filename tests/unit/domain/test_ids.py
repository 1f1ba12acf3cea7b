"""name_id is uuid5's text."""

from __future__ import annotations

import uuid

import pytest

from glimpse.domain.ids import name_id


@pytest.mark.parametrize(
    "name", ["", "a", "3f0c4a8e-6a51-4d8e-9b1c-6c1f3e1e7a01/notifications", "ünïcode/✓", "x" * 1000]
)
def test_the_same_text_as_uuid5(name: str) -> None:
    for namespace in (uuid.NAMESPACE_DNS, uuid.UUID("5f0c4a8e-6a51-4d8e-9b1c-6c1f3e1e7a01"), uuid.uuid4()):
        assert name_id(namespace, name) == str(uuid.uuid5(namespace, name))


def test_many_names() -> None:
    namespace = uuid.uuid4()
    for _ in range(2000):
        name = f"{uuid.uuid4()}/{uuid.uuid4()}"
        found = name_id(namespace, name)
        assert found == str(uuid.uuid5(namespace, name))
        assert uuid.UUID(found).version == 5
