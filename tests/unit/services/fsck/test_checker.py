"""glimpse.services.fsck.checker: what `glimpse fsck` finds and repairs, and what the start-up recovery
touches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from glimpse.container import Services, build_services
from glimpse.data.atrest import AtRest
from glimpse.data.sealing import sealed_size
from glimpse.db import Database
from glimpse.domain.images import Location
from glimpse.errors import StoreError
from glimpse.services.fsck import Finding, Fsck, FsckReport, Kind
from glimpse.settings import load_settings
from glimpse.stores.base import ListedObject
from glimpse.stores.filesystem import PARTIAL_SUFFIX
from tests.conftest import make_client
from tests.serverproc import backend
from tests.unit.services.fsck.support import (
    OCTET,
    active,
    add_location,
    check,
    create,
    datadir,
    kinds,
    set_saving,
    status_of,
)


def test_a_consistent_installation_is_clean(client: TestClient, services: Services) -> None:
    active(client, b"a" * 1000)
    active(client, b"b" * 10)
    create(client)  # queued, no data
    report = check(services)
    assert report.clean
    assert report.findings == []
    assert report.images_checked == 2
    tally = report.stores["local"]
    assert (tally.objects, tally.bytes, tally.referenced, tally.partial) == (2, 1010, 2, 0)
    assert "clean: no problems found" in report.render()
    assert report.as_dict()["clean"] is True


def test_data_left_by_a_failed_delete_is_an_orphan(
    client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    keep = active(client, b"keep")
    gone = active(client, b"gone")
    store = services.stores.default

    async def refuse(url: str) -> None:
        raise StoreError("Store local cannot write: Read-only file system")

    monkeypatch.setattr(store, "delete", refuse)
    assert client.delete(f"/v2/images/{gone}").status_code == 204  # the database decides; the data lingers
    monkeypatch.undo()
    assert (datadir(services) / gone).exists()

    report = check(services)
    assert kinds(report) == [(Kind.ORPHAN, gone)]
    assert "which is deleted" in report.findings[0].detail
    assert not report.clean
    assert (datadir(services) / gone).exists()  # a check alone changes nothing

    repaired = check(services, repair=True)
    assert repaired.clean
    assert repaired.findings[0].repaired
    assert not (datadir(services) / gone).exists()
    assert client.get(f"/v2/images/{keep}/file").content == b"keep"
    assert check(services).findings == []


def test_a_crashed_upload_is_stuck_offline_and_in_progress_online(client: TestClient, services: Services) -> None:
    image_id = create(client)
    set_saving(services, image_id)
    partial = datadir(services) / f"{image_id}.0badc0de{PARTIAL_SUFFIX}"
    partial.write_bytes(b"half an image")
    renamed = datadir(services) / image_id  # a crash between the rename and the activation
    renamed.write_bytes(b"a whole image")

    online = check(services, uploads_may_run=True, repair=backend() == "sqlite")
    if backend() == "postgresql":
        # no process holds the image's writer lock: a dead upload even while servers run, on any node
        assert kinds(online) == [(Kind.ORPHAN, image_id), (Kind.ORPHAN, image_id), (Kind.STUCK, image_id)]
    else:  # with a server running, an upload may be writing it: nothing to tell it from a dead one
        assert online.clean
        assert {f.kind for f in online.findings} == {Kind.IN_PROGRESS}
        assert len(online.findings) == 3
    assert partial.exists()
    assert renamed.exists()
    assert status_of(client, image_id) == "saving"

    offline = check(services)
    assert kinds(offline) == [(Kind.ORPHAN, image_id), (Kind.ORPHAN, image_id), (Kind.STUCK, image_id)]
    assert not offline.clean

    repaired = check(services, repair=True)
    assert repaired.clean
    assert all(f.repaired for f in repaired.findings)
    assert status_of(client, image_id) == "queued"
    assert list(datadir(services).iterdir()) == []
    # and the image takes an upload again
    assert client.put(f"/v2/images/{image_id}/file", content=b"again", headers=OCTET).status_code == 204
    assert check(services).findings == []


@pytest.mark.skipif(backend() != "postgresql", reason="writer locks are PostgreSQL advisory locks")
def test_an_upload_whose_writer_lock_is_held_is_never_touched(client: TestClient, services: Services) -> None:
    """Another node's upload in progress: neither fsck --repair nor a start-up recovery (alone in its own data
    directory, the servers' lock says) touches it, because a live process holds the image's writer lock."""
    image_id = create(client)
    set_saving(services, image_id)
    partial = datadir(services) / f"{image_id}.0badc0de{PARTIAL_SUFFIX}"
    partial.write_bytes(b"half an image")
    other_node = Database(services.db.url)  # another process's connection: its locks are not ours

    async def while_written() -> tuple[FsckReport, FsckReport]:
        async with other_node.writers.holding(image_id):
            checker = Fsck(services.db, services.stores)
            return await checker.check(repair=True, uploads_may_run=False), await checker.recover()

    try:
        checked, recovered = asyncio.run(while_written())
    finally:
        other_node.dispose()
    assert kinds(checked) == [(Kind.IN_PROGRESS, image_id), (Kind.IN_PROGRESS, image_id)]
    assert kinds(recovered) == [(Kind.IN_PROGRESS, image_id), (Kind.IN_PROGRESS, image_id)]
    assert (checked.clean, recovered.clean) == (True, True)
    assert partial.exists()
    assert status_of(client, image_id) == "saving"
    # once the writer is gone (its process died: its connection and locks with it), the same recovery repairs
    recovered = asyncio.run(Fsck(services.db, services.stores).recover())
    assert kinds(recovered) == [(Kind.ORPHAN, image_id), (Kind.STUCK, image_id)]
    assert not partial.exists()
    assert status_of(client, image_id) == "queued"


def test_missing_data_is_reported_loudly_and_never_papered_over(
    client: TestClient, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    image_id = active(client, b"precious")
    (datadir(services) / image_id).unlink()
    report = check(services, repair=True)
    assert kinds(report) == [(Kind.DATA_LOST, image_id), (Kind.MISSING, image_id)]
    assert not report.clean
    assert not any(f.repaired for f in report.findings)
    assert "DATA LOST" in report.render()
    assert any("DATA LOST" in record.getMessage() for record in caplog.records)
    body = client.get(f"/v2/images/{image_id}").json()
    assert (body["status"], body["size"]) == ("active", 8)  # reported, not changed


def test_a_size_mismatch_is_reported(client: TestClient, services: Services) -> None:
    image_id = active(client, b"0123456789")
    (datadir(services) / image_id).write_bytes(b"01234")
    report = check(services, repair=True)
    assert kinds(report) == [(Kind.SIZE_MISMATCH, image_id)]
    assert report.findings[0].size == 5
    assert "holds 5 bytes but the image has 10 bytes" in report.findings[0].detail
    assert not report.clean


def test_a_sealed_object_of_a_store_that_encrypts_is_the_size_of_its_sealed_data(
    client: TestClient, services: Services
) -> None:
    image_id = active(client, b"0123456789")
    (datadir(services) / image_id).write_bytes(bytes(sealed_size(10)))  # the header and one chunk of 10 bytes
    keyed = AtRest(readable={services.stores.default_id: {"kek"}})
    assert asyncio.run(Fsck(services.db, services.stores, keyed).check(repair=False, uploads_may_run=False)).clean
    assert kinds(check(services, repair=False)) == [(Kind.SIZE_MISMATCH, image_id)]  # a store without keys


def test_objects_of_no_image_are_left_alone(client: TestClient, services: Services) -> None:
    active(client)
    stranger = datadir(services) / "not-an-image.iso"
    stranger.write_bytes(b"someone else's")
    leftover = datadir(services) / f"not-an-image.12345678{PARTIAL_SUFFIX}"
    leftover.write_bytes(b"an unfinished write is ours whatever its key")
    report = check(services, repair=True)
    assert sorted(f.kind for f in report.findings) == [Kind.ORPHAN, Kind.UNKNOWN_OBJECT]
    assert stranger.exists()
    assert not leftover.exists()
    assert not report.clean  # the stranger stays a problem for the operator to decide


def test_a_location_in_an_unconfigured_store(client: TestClient, services: Services) -> None:
    image_id = active(client)
    add_location(services, image_id, Location(url="file:///elsewhere/x", store="retired"))
    report = check(services)
    assert kinds(report) == [(Kind.UNKNOWN_STORE, image_id)]


def test_an_unlistable_store_is_reported_and_its_images_not_called_lost(client: TestClient, services: Services) -> None:
    image_id = active(client)
    directory = datadir(services)
    (directory / image_id).unlink()
    directory.rmdir()
    report = check(services)
    assert [(f.kind, f.store) for f in report.findings] == [(Kind.UNREADABLE, "local")]
    assert not report.stores["local"].available
    assert "store local: could not be listed" in report.render()


@pytest.fixture
def two_stores(tmp_path: Path, clean_db: str) -> Iterator[tuple[TestClient, Services]]:
    settings = load_settings(
        env={"GLIMPSE_ENABLED_BACKENDS": "a:file,b:file"},
        data_dir=tmp_path / "data",
        database_url=clean_db,
        auth="noauth",
    )
    services = build_services(settings)
    try:
        with make_client(settings, services) as client:
            yield client, services
    finally:
        services.close()


def test_one_lost_copy_of_two_is_missing_but_not_lost(two_stores: tuple[TestClient, Services]) -> None:
    client, services = two_stores
    image_id = active(client, b"twice", store="a")
    copy = datadir(services, "b") / image_id
    copy.write_bytes(b"twice")
    add_location(services, image_id, Location(url=copy.as_uri(), store="b"))
    assert check(services).findings == []
    (datadir(services, "a") / image_id).unlink()
    report = check(services)
    assert [(f.kind, f.store) for f in report.findings] == [(Kind.MISSING, "a")]
    assert client.get(f"/v2/images/{image_id}/file").content == b"twice"  # served from the other copy


def test_recovery_touches_only_what_a_crash_leaves(
    client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    crashed = create(client)
    set_saving(services, crashed)
    partial = datadir(services) / f"{crashed}.0badc0de{PARTIAL_SUFFIX}"
    partial.write_bytes(b"half")
    deleted = active(client, b"orphan")

    async def refuse(url: str) -> None:
        raise StoreError("refused")

    monkeypatch.setattr(services.stores.default, "delete", refuse)
    client.delete(f"/v2/images/{deleted}")
    monkeypatch.undo()
    lost = active(client, b"lost")
    (datadir(services) / lost).unlink()

    caplog.set_level("INFO")
    report = asyncio.run(Fsck(services.db, services.stores).recover())
    assert kinds(report) == sorted([(Kind.ORPHAN, crashed), (Kind.STUCK, crashed), (Kind.ORPHAN, deleted)])
    assert report.clean
    assert status_of(client, crashed) == "queued"
    assert not partial.exists()
    assert not (datadir(services) / deleted).exists()  # a delete cut off after it committed is finished
    messages = "\n".join(record.getMessage() for record in caplog.records)
    assert f"image {crashed} was left in 'saving' by an interrupted upload: back to queued" in messages
    assert "1 interrupted upload(s) put back to queued, 2 leftover object(s) (10 bytes) removed" in messages

    caplog.clear()
    assert asyncio.run(Fsck(services.db, services.stores).recover()).findings == []
    assert "no interrupted upload to recover" in caplog.text


def test_a_repair_rechecks_under_the_lock(client: TestClient, services: Services) -> None:
    """An object that stopped being an orphan after the check (an upload started) is not deleted."""
    image_id = create(client)
    leftover = datadir(services) / image_id
    leftover.write_bytes(b"old")
    obj = ListedObject(url=leftover.as_uri(), size=3, key=image_id)
    set_saving(services, image_id)  # an upload of the image began after the listing (on another node)
    finding = Finding(Kind.ORPHAN, "x", "local", image_id, obj.url, 3)
    checker = Fsck(services.db, services.stores)
    other_node = Database(services.db.url)  # whose process holds the image's writer lock (PostgreSQL)

    async def while_written() -> None:
        async with other_node.writers.holding(image_id):
            await checker._remove(services.stores.default, obj, finding, uploads_may_run=True)

    try:
        asyncio.run(while_written())
    finally:
        other_node.dispose()
    assert not finding.repaired
    assert finding.repair_error == "it is no longer an orphan"
    assert leftover.exists()


def test_an_import_attempt_s_copy_nothing_references_is_its_image_s_orphan(
    client: TestClient, services: Services
) -> None:
    """``<image id>.attempt-<token>``: what an import attempt that lost its task to another attempt may leave
    (killed before it removed it). It is known as the image's (not an unknown object), and removed; the copy
    the image records is left alone."""
    image_id = active(client, b"recorded")
    recorded = datadir(services) / image_id
    left = datadir(services) / f"{image_id}.attempt-0badc0de"
    left.write_bytes(b"a late attempt's bytes")
    unfinished = datadir(services) / f"{image_id}.attempt-00c0ffee.1234abcd{PARTIAL_SUFFIX}"
    unfinished.write_bytes(b"half")

    report = check(services)
    assert kinds(report) == [(Kind.ORPHAN, image_id), (Kind.ORPHAN, image_id)]
    repaired = check(services, repair=True)
    assert all(finding.repaired for finding in repaired.findings)
    assert not left.exists()
    assert not unfinished.exists()
    assert recorded.read_bytes() == b"recorded"

    left.write_bytes(b"a late attempt's bytes")  # the start-up recovery removes it too
    recovered = asyncio.run(Fsck(services.db, services.stores).recover())
    assert [(f.kind, f.image_id, f.repaired) for f in recovered.findings] == [(Kind.ORPHAN, image_id, True)]
    assert not left.exists()
    assert check(services).findings == []
