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


@pytest.mark.parametrize(
    ("state", "uploads_may_run", "expected"),
    [
        (("active", False, ("URL",)), False, None),  # the copy the image records
        (("active", False, ("URL2",)), False, Kind.ORPHAN),  # a copy an attempt that lost its task left beside it
        (("active", False, ("URL2",)), True, Kind.IN_PROGRESS),  # its attempt may still run
        (("importing", False, ()), False, Kind.IN_PROGRESS),  # the import runs: its task owns the data
        (("deleted", True, ()), False, Kind.ORPHAN),
    ],
)
def test_classify_an_import_attempt_s_copy(
    state: tuple[str, bool, tuple[str, ...]], uploads_may_run: bool, expected: Kind | None
) -> None:
    """Not "another copy of the image, left alone" as an object of an unknown name would be: an import attempt's
    copy nothing references is an orphan once no process may be running that attempt."""
    from glimpse.db.repositories.integrity import ImageState

    obj = ListedObject(url="URL", size=1, key="k", attempt=True)
    image = ImageState(Status(state[0]), state[1], state[2])
    verdict = classify(obj, image, referenced=False, uploads_may_run=uploads_may_run)
    assert (verdict[0] if verdict else None) == expected
