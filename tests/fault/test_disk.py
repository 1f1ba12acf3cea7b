"""A store whose disk is full, and one that turned read-only: clear errors, consistent images, no leftovers;
a delete that cannot remove its data leaves an orphan that `glimpse fsck` finds and repairs."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from tests.fault.conftest import MakeServer, unmount


def blocks(total: int, size: int = 256 << 10) -> Iterator[bytes]:
    block = os.urandom(size)
    for _ in range(total // size):
        yield block


def test_disk_full(make_server: MakeServer, mounts: Callable[..., None]) -> None:
    server = make_server(start=False)
    mounts("-t", "tmpfs", "-o", "size=8m", "tmpfs", target=server.store_dir("tiny"))
    server.start()
    server.active_image(os.urandom(1 << 20))
    image_id = server.create_image("too big")

    response = server.upload(image_id, blocks(12 << 20), store="tiny")  # streamed: the size is not announced
    assert response.status == 413
    assert response.text == (
        "413 Request Entity Too Large\n\n"
        "Image storage media is full: store tiny has no space left (No space left on device)\n\n   "
    )
    assert server.status(image_id) == "queued"
    assert server.store_files("tiny") == []  # the partial write is gone, the space is free again

    fits = os.urandom(4 << 20)
    assert server.upload(image_id, fits, store="tiny").status == 204
    assert server.image(image_id)["stores"] == "tiny"
    assert server.request("GET", f"/v2/images/{image_id}/file").body == fits
    assert server.assert_active_images_intact() == 2
    code, report = server.fsck()
    assert (code, report["findings"]) == (0, [])
    server.assert_no_traceback()


def test_read_only_store(make_server: MakeServer, mounts: Callable[..., None]) -> None:
    server = make_server()
    frozen = server.store_dir("frozen")
    data = os.urandom(1 << 20)
    old = server.active_image(data, store="frozen")
    # root ignores file permissions, so the store turns read-only the way a failing disk does: remounted ro
    mounts("--bind", str(frozen), target=frozen)
    mounts("-o", "remount,bind,ro", target=frozen)

    image_id = server.create_image("refused")
    response = server.upload(image_id, os.urandom(1 << 20), store="frozen")
    assert response.status == 503
    assert "Store frozen cannot write: Read-only file system" in response.text
    assert server.status(image_id) == "queued"
    assert server.store_files("frozen") == [old]
    assert server.request("GET", f"/v2/images/{old}/file").body == data  # reading still works

    # a delete lets go of the image in the database first; the data it cannot remove becomes an orphan
    assert server.request("DELETE", f"/v2/images/{old}").status == 204
    assert server.request("GET", f"/v2/images/{old}").status == 404
    assert server.store_files("frozen") == [old]
    code, report = server.fsck()
    assert code == 1
    [finding] = report["findings"]
    assert (finding["kind"], finding["store"], finding["image_id"]) == ("orphan", "frozen", old)
    code, report = server.fsck("--repair")  # cannot be repaired while the store refuses writes
    assert code == 1
    assert "Read-only file system" in report["findings"][0]["repair_error"]

    unmount(frozen)  # writable again
    code, report = server.fsck("--repair")
    assert code == 0
    assert report["findings"][0]["repaired"] is True
    assert server.store_files("frozen") == []
    assert server.upload(image_id, os.urandom(1 << 20), store="frozen").status == 204
    assert server.assert_active_images_intact() == 1
    code, report = server.fsck()
    assert (code, report["findings"]) == (0, [])
    server.assert_no_traceback()
