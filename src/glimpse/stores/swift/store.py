"""The Swift store: reading, listing and checking on top of the writer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.to_thread
import swiftclient

from glimpse.errors import NotFound, StoreError, StoreUnavailable
from glimpse.stores.base import ListedObject
from glimpse.stores.swift.connection import SEGMENTS_SUFFIX, UPLOAD_META, failure
from glimpse.stores.swift.writes import SwiftWriter


class SwiftStore(SwiftWriter):
    """A Swift container (or a set of them, ``multiple_containers_seed``) as an image store."""

    type = "swift"

    # -- the rest of the protocol -----------------------------------------------------------------------
    async def open(self, url: str, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        container, name = await anyio.to_thread.run_sync(self._locate, url)
        if length == 0:
            return
        headers: dict[str, str] = {}
        if start or length is not None:
            end = "" if length is None else str(start + length - 1)
            headers["Range"] = f"bytes={start}-{end}"
        conn = await anyio.to_thread.run_sync(self._open_connection)
        done = False
        try:

            def request() -> tuple[int, Any]:
                try:
                    headers_in, body = conn.get_object(
                        container, name, resp_chunk_size=self.chunk_size, headers=headers
                    )
                    return int(headers_in.get("content-length", -1)), body
                except swiftclient.ClientException as exc:
                    if exc.http_status == 404:
                        raise NotFound(f"Image data for {url} is missing from store {self.id}") from None
                    raise failure(self.id, exc, "cannot read") from exc
                except Exception as exc:
                    raise failure(self.id, exc, "cannot read") from exc

            expected, body = await anyio.to_thread.run_sync(request)

            def read() -> bytes:
                try:
                    chunk: bytes = next(body, b"")
                    return chunk
                except Exception as exc:
                    raise failure(self.id, exc, "failed while reading") from exc

            received = 0
            while chunk := await anyio.to_thread.run_sync(read):
                received += len(chunk)
                yield chunk
            if 0 <= received < expected:  # e.g. a segment of a large object went missing
                raise StoreError(f"Store {self.id}: the data of {url} ended after {received} of {expected} bytes")
            done = True
        finally:
            if done:
                self._release(conn)
            else:
                conn.close()  # a response read halfway cannot serve the next call

    async def delete(self, url: str) -> None:
        def run() -> None:
            container, name = self._locate(url)
            self._delete(container, name)

        await anyio.to_thread.run_sync(run)

    async def stat(self, url: str) -> int | None:
        def run() -> int | None:
            container, name = self._locate(url)

            def head(conn: swiftclient.Connection) -> int | None:
                try:
                    return int(conn.head_object(container, name)["content-length"])
                except swiftclient.ClientException as exc:
                    if exc.http_status == 404:
                        return None
                    raise

            return self._call("cannot read", head)

        return await anyio.to_thread.run_sync(run)

    async def list_objects(self) -> AsyncIterator[ListedObject]:
        for listed in await anyio.to_thread.run_sync(self._scan):
            yield listed

    def _listing(self, container: str) -> list[dict[str, Any]]:
        def run(conn: swiftclient.Connection) -> list[dict[str, Any]]:
            try:
                items: list[dict[str, Any]] = conn.get_container(container, full_listing=True)[1]
                return items
            except swiftclient.ClientException as exc:
                if exc.http_status != 404:
                    raise
                return []

        return self._call(f"cannot list container {container}", run)

    def _containers(self) -> list[str]:
        if not self.multiple_containers_seed:
            return [self.container]

        def run(conn: swiftclient.Connection) -> list[str]:
            items = conn.get_account(prefix=f"{self.container}_", full_listing=True)[1]
            return [str(item["name"]) for item in items]

        names = self._call("cannot list containers", run)
        return sorted({name.removesuffix(SEGMENTS_SUFFIX) for name in names if self._is_ours(name)})

    def _live_upload(self, container: str, key: str) -> str | None:
        """The upload token a manifest names (None: no manifest, or not an SLO written by us)."""

        def run(conn: swiftclient.Connection) -> str | None:
            try:
                token: str | None = conn.head_object(container, key).get(UPLOAD_META)
                return token
            except swiftclient.ClientException as exc:
                if exc.http_status != 404:
                    raise
                return None

        return self._call("cannot read", run)

    def _scan(self) -> list[ListedObject]:
        """Completed objects, and the segments no manifest names (grouped by upload) as partial ones."""
        prefix = self._prefix()
        found: list[ListedObject] = []
        for container in self._containers():
            segments_container = container + SEGMENTS_SUFFIX
            # segments before objects: a write that completes in between shows as complete
            groups: dict[str, int] = {}
            for item in self._listing(segments_container):
                group, _, _ = str(item["name"]).rpartition("/")
                if not group:  # not a segment of ours: shown as an object of its own
                    url = self._url(prefix, segments_container, str(item["name"]))
                    found.append(ListedObject(url=url, size=int(item["bytes"]), key=str(item["name"])))
                    continue
                groups[group] = groups.get(group, 0) + int(item["bytes"])
            objects = {str(item["name"]): int(item["bytes"]) for item in self._listing(container)}
            for name, size in objects.items():
                found.append(ListedObject(url=self._url(prefix, container, name), size=size, key=name))
            live = {
                f"{key}/{token}"
                for key in {group.rpartition("/")[0] for group in groups} & objects.keys()
                if (token := self._live_upload(container, key))
            }
            for group, size in groups.items():
                if group in live:
                    continue
                key = group.rpartition("/")[0] or group
                url = self._url(prefix, segments_container, group + "/")
                found.append(ListedObject(url=url, size=size, key=key, partial=True))
        return sorted(found, key=lambda listed: listed.url)

    def details(self) -> dict[str, object]:
        return {  # Glance's keys (sizes in bytes)
            "container": self.container,
            "large_object_size": self.large_object_size,
            "large_object_chunk_size": self.large_object_chunk_size,
        }

    async def check(self) -> None:
        await anyio.to_thread.run_sync(self._prefix)
        await anyio.to_thread.run_sync(self._probe)

    def _probe(self) -> None:
        """The account answers, and the container exists (or the store may create it)."""

        def run(conn: swiftclient.Connection) -> None:
            conn.head_account()
            if self.multiple_containers_seed:
                return
            try:
                conn.head_container(self.container)
            except swiftclient.ClientException as exc:
                if exc.http_status != 404:
                    raise
                if not self.create_container_on_put:
                    raise StoreUnavailable(f"Store {self.id}: container {self.container} does not exist") from None

        self._call("is unavailable", run)
