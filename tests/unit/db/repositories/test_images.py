"""The image repository enforces the status table: every status it writes is a move the table allows."""

from __future__ import annotations

from typing import Any

import pytest

from glimpse.container import Services
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.images import TRANSITIONS, Image, Status, new_id
from glimpse.errors import InvalidTransition

FORBIDDEN = [
    (current, target)
    for current in Status
    for target in Status
    if target != current and target not in TRANSITIONS[current] and current != Status.DELETED
]


def _add(services: Services, status: Status) -> str:
    now = utcnow()
    image = Image(id=new_id(), owner="p", created_at=now, updated_at=now, status=status)
    services.db.run_sync(lambda s: ImageRepository(s).add(image))
    return image.id


def _status(services: Services, image_id: str) -> Status:
    status: Status = services.db.run_sync(lambda s: ImageRepository(s).get(image_id, None).status)
    return status


def _save_as(services: Services, image_id: str, target: Status) -> None:
    def work(session: Any) -> None:
        repo = ImageRepository(session)
        image = repo.get(image_id, None)
        image.status = target  # written around the domain's checks on purpose: the repository still refuses
        repo.save(image)

    services.db.run_sync(work)


@pytest.mark.parametrize(("current", "target"), FORBIDDEN, ids=[f"{c}-{t}" for c, t in FORBIDDEN])
def test_save_refuses_a_move_the_table_forbids(services: Services, current: Status, target: Status) -> None:
    image_id = _add(services, current)
    with pytest.raises(InvalidTransition) as caught:
        _save_as(services, image_id, target)
    assert (caught.value.current, caught.value.target) == (current.value, target.value)
    assert _status(services, image_id) == current


@pytest.mark.parametrize(("current", "target"), FORBIDDEN, ids=[f"{c}-{t}" for c, t in FORBIDDEN])
def test_set_status_refuses_a_move_the_table_forbids(services: Services, current: Status, target: Status) -> None:
    image_id = _add(services, current)
    with pytest.raises(InvalidTransition):
        services.db.run_sync(lambda s: ImageRepository(s).set_status(image_id, [current], target, utcnow()))
    assert _status(services, image_id) == current


def test_a_failed_glance_direct_import_may_go_back_to_uploading(services: Services) -> None:
    image_id = _add(services, Status.IMPORTING)
    _save_as(services, image_id, Status.UPLOADING)
    assert _status(services, image_id) == Status.UPLOADING


def test_allowed_moves_and_staying_put_are_written(services: Services) -> None:
    image_id = _add(services, Status.QUEUED)
    assert services.db.run_sync(
        lambda s: ImageRepository(s).set_status(image_id, [Status.QUEUED], Status.UPLOADING, utcnow())
    )
    assert services.db.run_sync(  # the staged size is recorded without a move
        lambda s: ImageRepository(s).set_status(image_id, [Status.UPLOADING], Status.UPLOADING, utcnow(), size=3)
    )
    _save_as(services, image_id, Status.IMPORTING)
    assert _status(services, image_id) == Status.IMPORTING
