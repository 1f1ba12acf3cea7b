"""Swift stores on the real Swift of scripts/swift-up (tempauth), each over a fresh container.

The container and its ``_segments`` companion are emptied and removed afterwards. Objects above 256 KiB
are written as static large objects of 128 KiB segments, so the contract's 1 MB images take that path.
The auth URL and credentials are $GLIMPSE_SWIFT_AUTH_URL / _USER / _KEY, by default those of
scripts/swift-up; when the server is down the tests fail.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import swiftclient

from glimpse.stores.base import Store
from glimpse.stores.swift import SwiftAuth, SwiftStore

AUTH_URL = os.environ.get("GLIMPSE_SWIFT_AUTH_URL", "http://127.0.0.1:8080/auth/v1.0")
USER = os.environ.get("GLIMPSE_SWIFT_USER", "glimpse:glimpse")
KEY = os.environ.get("GLIMPSE_SWIFT_KEY", "glimpse-secret")
OTHER_USER, OTHER_KEY = "other:other", "other-secret"  # scripts/swift-up's second account
LARGE_OBJECT_SIZE = 256 * 1024
SEGMENT_SIZE = 128 * 1024


def auth(user: str = USER, key: str = KEY) -> SwiftAuth:
    return SwiftAuth(auth_address=AUTH_URL, user=user, key=key, auth_version="1")


def admin_connection(user: str = USER, key: str = KEY) -> Any:
    """A plain swiftclient connection on the test server (for setting up and inspecting behind the store)."""
    return swiftclient.Connection(authurl=AUTH_URL, user=user, key=key, auth_version="1", retries=1)


def object_names(conn: Any, container: str) -> list[str]:
    """The container's object names; none when it does not exist."""
    try:
        return [str(item["name"]) for item in conn.get_container(container, full_listing=True)[1]]
    except swiftclient.ClientException as exc:
        if exc.http_status == 404:
            return []
        raise


def remove_container(conn: Any, container: str) -> None:
    """Delete every object of the container, then the container; a missing one is fine."""
    for name in object_names(conn, container):
        try:
            conn.delete_object(container, name)
        except swiftclient.ClientException as exc:
            if exc.http_status != 404:
                raise
    try:
        conn.delete_container(container)
    except swiftclient.ClientException as exc:
        if exc.http_status != 404:
            raise


def unique_container() -> str:
    return f"glimpse-test-{secrets.token_hex(6)}"


@contextmanager
def swift_test_store(
    *, user: str = USER, key: str = KEY, container: str | None = None, **settings: Any
) -> Iterator[SwiftStore]:
    """A SwiftStore over a fresh container (created on first put), removed with its segments afterwards."""
    name = container or unique_container()
    options: dict[str, Any] = {
        "create_container_on_put": True,
        "large_object_size": LARGE_OBJECT_SIZE,
        "large_object_chunk_size": SEGMENT_SIZE,
        "chunk_size": 64 * 1024,
    }
    options.update(settings)
    store = SwiftStore("swift", auth(user, key), container=name, **options)
    try:
        yield store
    finally:
        conn = admin_connection(user, key)
        try:
            if store.multiple_containers_seed:
                names = [str(c["name"]) for c in conn.get_account(prefix=f"{name}_", full_listing=True)[1]]
            else:
                names = [name, f"{name}_segments"]
            for each in names:
                remove_container(conn, each)
        finally:
            conn.close()


@contextmanager
def swift_store(tmp_path: Path) -> Iterator[Store]:
    with swift_test_store() as store:
        yield store
