"""glimpse.services.fsck.rules: what a stored object is, from its image's state and whether servers run."""

from __future__ import annotations

import pytest

from glimpse.domain.images import Status
from glimpse.services.fsck import Kind, classify
from glimpse.stores.base import ListedObject


@pytest.mark.parametrize(
    ("partial", "state", "referenced", "uploads_may_run", "expected"),
    [
        (False, None, True, False, None),
        (False, ("active", False, ("URL",)), False, False, None),
        (True, ("saving", False, ()), False, True, Kind.IN_PROGRESS),
        (False, ("saving", False, ()), False, True, Kind.IN_PROGRESS),
        (True, ("saving", False, ()), False, False, Kind.ORPHAN),
        (True, None, False, True, Kind.ORPHAN),
        (False, None, False, False, Kind.UNKNOWN_OBJECT),
        (False, ("active", False, ("file:///other",)), False, False, Kind.UNKNOWN_OBJECT),
        (False, ("active", False, ()), False, True, Kind.ORPHAN),
        (False, ("queued", False, ()), False, True, Kind.ORPHAN),
        (False, ("deleted", True, ()), False, True, Kind.ORPHAN),
        (True, ("uploading", False, ()), False, False, Kind.ORPHAN),  # no server runs: a dead write
        (True, ("importing", False, ()), False, True, Kind.IN_PROGRESS),
        (True, ("importing", False, ()), False, False, Kind.ORPHAN),  # a killed import's; its retry writes anew
        (True, ("active", False, ("URL2",)), False, True, Kind.IN_PROGRESS),
        (True, ("active", False, ("URL2",)), False, False, Kind.ORPHAN),
        (True, ("deleted", True, ()), False, True, Kind.ORPHAN),
        (False, ("importing", False, ()), False, False, Kind.IN_PROGRESS),
    ],
)
def test_classify(
    partial: bool,
    state: tuple[str, bool, tuple[str, ...]] | None,
    referenced: bool,
    uploads_may_run: bool,
    expected: Kind | None,
) -> None:
    from glimpse.db.repositories.integrity import ImageState

    obj = ListedObject(url="URL", size=1, key="k", partial=partial)
    image = None if state is None else ImageState(Status(state[0]), state[1], state[2])
    verdict = classify(obj, image, referenced=referenced, uploads_may_run=uploads_may_run)
    assert (verdict[0] if verdict else None) == expected
