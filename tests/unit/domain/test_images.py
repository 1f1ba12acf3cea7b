"""glimpse.domain.images: the status machine and the property rules."""

from __future__ import annotations

from datetime import datetime

import pytest

from glimpse.domain.images import (
    CORE,
    MAX_KEY_LENGTH,
    MAX_VALUE_LENGTH,
    READ_ONLY,
    RESERVED,
    TRANSITIONS,
    Digests,
    Image,
    Location,
    MemberStatus,
    Status,
    Visibility,
    check_extra_property,
    check_settable,
    check_transition,
    is_uuid,
    new_id,
)
from glimpse.errors import BadRequest, Conflict, Forbidden, InvalidTransition, ReadOnlyAttribute, ReservedAttribute

S = Status
ALLOWED = {
    (S.QUEUED, S.SAVING), (S.QUEUED, S.UPLOADING), (S.QUEUED, S.IMPORTING), (S.QUEUED, S.ACTIVE),
    (S.QUEUED, S.DELETED), (S.SAVING, S.ACTIVE), (S.SAVING, S.KILLED), (S.SAVING, S.DELETED),
    (S.SAVING, S.QUEUED), (S.UPLOADING, S.IMPORTING), (S.UPLOADING, S.QUEUED), (S.UPLOADING, S.DELETED),
    (S.IMPORTING, S.ACTIVE), (S.IMPORTING, S.DELETED), (S.IMPORTING, S.QUEUED), (S.IMPORTING, S.UPLOADING),
    (S.ACTIVE, S.PENDING_DELETE),
    (S.ACTIVE, S.DELETED), (S.ACTIVE, S.DEACTIVATED), (S.DEACTIVATED, S.ACTIVE), (S.DEACTIVATED, S.DELETED),
    (S.PENDING_DELETE, S.DELETED), (S.PENDING_DELETE, S.ACTIVE), (S.KILLED, S.DELETED),
}  # fmt: skip


# -- status machine --------------------------------------------------------------------------------------------
def test_every_status_has_transitions() -> None:
    assert set(TRANSITIONS) == set(Status)
    assert TRANSITIONS[S.DELETED] == frozenset()


@pytest.mark.parametrize("current", list(Status))
@pytest.mark.parametrize("target", list(Status))
def test_transitions(current: Status, target: Status) -> None:
    if (current, target) in ALLOWED or current == target:  # staying in a status is not a move
        check_transition(current, target)
    else:
        with pytest.raises(InvalidTransition) as caught:
            check_transition(current, target)
        assert caught.value.current == current.value
        assert caught.value.target == target.value
        assert caught.value.message == (
            f"Image status transition from {current.value} to {target.value} is not allowed"
        )


def test_transitions_accept_strings() -> None:
    check_transition("queued", "saving")
    with pytest.raises(InvalidTransition):
        check_transition("active", "saving")
    with pytest.raises(ValueError, match="bogus"):
        check_transition("bogus", "active")


def test_invalid_transition_is_a_conflict() -> None:
    assert issubclass(InvalidTransition, Conflict)


# -- property rules --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(READ_ONLY))
def test_read_only(name: str) -> None:
    with pytest.raises(ReadOnlyAttribute) as caught:
        check_settable(name)
    assert caught.value.message == f"Attribute '{name}' is read-only."
    assert isinstance(caught.value, Forbidden)


def test_id_is_settable_on_create_only() -> None:
    check_settable("id", creating=True)
    with pytest.raises(ReadOnlyAttribute):
        check_settable("id")
    with pytest.raises(ReadOnlyAttribute):
        check_settable("status", creating=True)


@pytest.mark.parametrize("name", sorted(RESERVED))
def test_reserved(name: str) -> None:
    for creating in (True, False):
        with pytest.raises(ReservedAttribute) as caught:
            check_settable(name, creating=creating)
        assert caught.value.message == f"Attribute '{name}' is reserved."


@pytest.mark.parametrize("name", ["os_glance", "os_glance_import_task", "os_glance_failed_import"])
def test_os_glance_namespace(name: str) -> None:
    with pytest.raises(Forbidden, match="is reserved"):
        check_settable(name)


@pytest.mark.parametrize("name", ["name", "visibility", "tags", "hw_disk_bus", "os_glanc", "glance_os", "os_hidden"])
def test_settable(name: str) -> None:
    check_settable(name)


def test_core_and_read_only_do_not_overlap() -> None:
    assert not CORE & READ_ONLY
    assert not RESERVED & (CORE | READ_ONLY)


def test_extra_property_limits() -> None:
    check_extra_property("k" * MAX_KEY_LENGTH, "v" * MAX_VALUE_LENGTH)
    check_extra_property("k", "")
    with pytest.raises(BadRequest):
        check_extra_property("k" * (MAX_KEY_LENGTH + 1), "v")
    with pytest.raises(BadRequest):
        check_extra_property("", "v")
    with pytest.raises(BadRequest):
        check_extra_property("k", "v" * (MAX_VALUE_LENGTH + 1))
    assert (MAX_KEY_LENGTH, MAX_VALUE_LENGTH) == (255, 65535)


@pytest.mark.parametrize("value", [1, 1.0, True, None, ["a"], {"a": "b"}])
def test_extra_property_must_be_a_string(value: object) -> None:
    with pytest.raises(BadRequest, match="is not of type 'string'"):
        check_extra_property("k", value)


# -- ids -------------------------------------------------------------------------------------------------------
def test_uuids() -> None:
    assert is_uuid(new_id())
    assert new_id() != new_id()
    assert is_uuid("0A1B2C3D-0000-0000-0000-000000000000")
    assert is_uuid("0a1b2c3d000000000000000000000000")
    assert not is_uuid("not-a-uuid")
    assert not is_uuid("0a1b2c3d-0000-0000-0000-00000000000")
    assert not is_uuid("0a1b2c3d-0000-0000-0000-0000000000000")
    assert not is_uuid("")


# -- the image -------------------------------------------------------------------------------------------------
def _image(**kwargs: object) -> Image:
    now = datetime(2024, 1, 1)
    return Image(id=new_id(), owner="p", created_at=now, updated_at=now, **kwargs)  # type: ignore[arg-type]


def test_image_defaults() -> None:
    image = _image()
    assert image.status == Status.QUEUED
    assert image.visibility == Visibility.SHARED
    assert (image.protected, image.os_hidden, image.min_disk, image.min_ram) == (False, False, 0, 0)
    assert image.tags == set()
    assert image.properties == {}
    assert not image.has_data()
    assert image.stores == []


def test_image_stores_keep_location_order_without_duplicates() -> None:
    image = _image(
        locations=[
            Location(url="file:///a/1", store="fast"),
            Location(url="file:///b/1", store="cheap"),
            Location(url="file:///a/2", store="fast"),
        ]
    )
    assert image.stores == ["fast", "cheap"]
    assert image.has_data()


def test_enums_are_strings() -> None:
    assert Status.PENDING_DELETE == "pending_delete"
    assert [v.value for v in Visibility] == ["public", "community", "shared", "private"]
    assert [m.value for m in MemberStatus] == ["pending", "accepted", "rejected"]


# -- activation and moves --------------------------------------------------------------------------------------
def _at(status: Status) -> Image:
    then = datetime(2026, 1, 1)
    return Image(id=new_id(), owner="p", created_at=then, updated_at=then, status=status)


DIGESTS = Digests(size=5, checksum="c" * 32, hash_algo="sha512", hash_value="d" * 128, virtual_size=5)


@pytest.mark.parametrize("status", [S.SAVING, S.IMPORTING, S.QUEUED])
def test_activate_records_the_digests_and_adds_the_locations(status: Status) -> None:
    image = _at(status)
    image.locations = [Location(url="file:///a", store="a")]
    now = datetime(2026, 2, 2)
    image.activate(DIGESTS, [Location(url="file:///b", store="b")], now)
    assert (image.status, image.size, image.checksum, image.virtual_size) == (S.ACTIVE, 5, "c" * 32, 5)
    assert (image.os_hash_algo, image.os_hash_value, image.updated_at) == ("sha512", "d" * 128, now)
    assert [loc.store for loc in image.locations] == ["a", "b"]


@pytest.mark.parametrize("status", [S.UPLOADING, S.KILLED, S.DELETED])
def test_activate_refuses_a_status_that_may_not_become_active(status: Status) -> None:
    image = _at(status)
    with pytest.raises(InvalidTransition):
        image.activate(DIGESTS, [], datetime(2026, 2, 2))
    assert image.status == status
    assert image.size is None


def test_move_to_follows_the_table() -> None:
    image = _at(S.IMPORTING)
    image.move_to(S.UPLOADING, datetime(2026, 2, 2))  # a failed glance-direct import keeps its staged data
    assert image.status == S.UPLOADING
    with pytest.raises(InvalidTransition):
        image.move_to(S.ACTIVE, datetime(2026, 2, 3))
    assert image.status == S.UPLOADING
