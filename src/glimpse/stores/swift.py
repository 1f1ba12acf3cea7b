"""OpenStack Swift, through python-swiftclient (tempauth or Keystone).

Small images are one streamed PUT. Large ones become a static large object (SLO): segments named
``<key>/<upload token>/<n>`` in ``<container>_segments``, written one after the other while the data
arrives, then the manifest under ``<key>``; a failed write deletes the segments it wrote. Whether an image
is large is decided by its size hint (above ``large_object_size``); a stream without a hint is buffered up
to ``min(large_object_size, UNSIZED_SINGLE_PUT)`` bytes, and one that goes on beyond that is written as
segments. Memory per write stays bounded by that buffer plus a few blocks.

swiftclient blocks: every call runs in a worker thread, on a connection taken from a small pool (a
connection serves one call at a time). An upload runs in a thread of its own, fed by the event loop through
a bounded memory stream; a streamed body cannot be sent twice, so each streamed PUT is preceded by a HEAD of
its container, which renews an expired token first. Errors leave this module as ``glimpse.errors``
exceptions only.

Locations are ``swift+<storage URL>/<container>/<key>`` (never credentials); locations written by Glance
(``swift+http://user:key@auth/.../<container>/<key>``, ``swift+config://ref/<container>/<key>``) are read
by their last two components when the container is one of this store's.
"""

from __future__ import annotations

import asyncio
import configparser
import json
import logging
import math
import secrets
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit

import anyio
import anyio.to_thread
import swiftclient
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import generic

from glimpse.errors import GlimpseError, NotFound, StorageFull, StoreError, StoreUnavailable
from glimpse.logs import mask_secrets
from glimpse.settings import SwiftStoreOptions
from glimpse.stores.base import Block, ListedObject, StoredObject

log = logging.getLogger(__name__)

T = TypeVar("T")

MiB = 1 << 20
# Swift's defaults for a cluster's max_manifest_segments and max_file_size: a manifest lists at most that
# many segments, and no single object (segment) may be larger
MAX_SEGMENTS = 1000
MAX_OBJECT_SIZE = 5 << 30
# an unsized stream's segments double in size every this many segments, so that it fits in one manifest
GROW_EVERY = 100
# the most an unsized stream is buffered to find out whether it is small enough for a single PUT
UNSIZED_SINGLE_PUT = 16 * MiB
FEED_DEPTH = 4  # blocks queued between the event loop and an upload's thread
IDLE_CONNECTIONS = 8
RETRIES = 2
TIMEOUT = 60.0
UPLOAD_META = "x-object-meta-glimpse-upload"
SEGMENTS_SUFFIX = "_segments"
LOCATION_SCHEMES = ("swift", "swift+http", "swift+https", "swift+config")


class _Aborted(Exception):
    """The data source of an upload failed (the event loop side reports why)."""


# -- configuration --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SwiftAuth:
    """How to sign in: tempauth-style v1 (``account:user`` + key), or Keystone (2/3: ``project:user``)."""

    auth_address: str
    user: str
    key: str = field(repr=False)
    auth_version: str = "1"
    user_domain_id: str | None = "default"
    user_domain_name: str | None = None
    project_domain_id: str | None = "default"
    project_domain_name: str | None = None
    region: str | None = None
    endpoint_type: str = "publicURL"
    service_type: str = "object-store"
    endpoint: str | None = None  # the storage URL to use instead of the one authentication returns
    insecure: bool = False
    cacert: str | None = None


def _reference(store_id: str, options: SwiftStoreOptions) -> dict[str, str]:
    """The credentials of ``swift_store_config_file``'s ``default_swift_reference`` section, when set (its
    key is masked in log lines from now on, as the configured secrets are)."""
    path = options.swift_store_config_file
    if path is None:
        return {}
    name = options.default_swift_reference or "ref1"
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as file:
            parser.read_file(file)
    except (OSError, configparser.Error) as exc:
        raise ValueError(f"store {store_id!r}: cannot read swift_store_config_file {path}: {exc}") from exc
    if not parser.has_section(name):
        raise ValueError(f"store {store_id!r}: {path} has no [{name}] section (default_swift_reference)")
    reference = {option: value.strip() for option, value in parser.items(name)}
    mask_secrets([reference.get("key", "")])
    return reference


def from_options(
    store_id: str, options: SwiftStoreOptions, *, description: str, weight: int, chunk_size: int
) -> SwiftStore:
    """A Swift store from a store section's options (glance_store's ``swift_store_*`` names); the credentials
    the section leaves out come from its ``swift_store_config_file`` reference."""
    ref = _reference(store_id, options)

    def pick(ref_name: str, option: str | None, default: str | None = None) -> str | None:
        return option or ref.get(ref_name) or default

    key_option = options.swift_store_key.get_secret_value() if options.swift_store_key is not None else None
    auth_address = pick("auth_address", options.swift_store_auth_address)
    user = pick("user", options.swift_store_user)
    key = pick("key", key_option)
    missing = [name for name, value in (("auth_address", auth_address), ("user", user), ("key", key)) if not value]
    if missing:
        names = ", ".join(f"swift_store_{name}" for name in missing)
        raise ValueError(f"store {store_id!r}: {names} must be set (or come from swift_store_config_file)")
    assert auth_address is not None
    assert user is not None
    assert key is not None
    version = pick("auth_version", options.swift_store_auth_version, "2") or "2"
    if version not in ("1", "2", "3"):
        raise ValueError(f"store {store_id!r}: swift_store_auth_version must be 1, 2 or 3, not {version!r}")
    if ":" not in user:
        raise ValueError(f"store {store_id!r}: swift_store_user must be 'account:user' (or 'project:user')")
    explicit_user_domain = pick("user_domain_name", options.swift_store_user_domain_name)
    explicit_project_domain = pick("project_domain_name", options.swift_store_project_domain_name)
    auth = SwiftAuth(
        auth_address=auth_address,
        user=user,
        key=key,
        auth_version=version,
        user_domain_id=pick(
            "user_domain_id", options.swift_store_user_domain_id, None if explicit_user_domain else "default"
        ),
        user_domain_name=explicit_user_domain,
        project_domain_id=pick(
            "project_domain_id", options.swift_store_project_domain_id, None if explicit_project_domain else "default"
        ),
        project_domain_name=explicit_project_domain,
        region=pick("region", options.swift_store_region),
        endpoint_type=pick("endpoint_type", options.swift_store_endpoint_type, "publicURL") or "publicURL",
        service_type=pick("service_type", options.swift_store_service_type, "object-store") or "object-store",
        endpoint=pick("endpoint", options.swift_store_endpoint),
        insecure=options.swift_store_auth_insecure,
        cacert=pick("cacert", options.swift_store_cacert),
    )
    return SwiftStore(
        store_id,
        auth,
        container=options.swift_store_container,
        create_container_on_put=options.swift_store_create_container_on_put,
        large_object_size=options.swift_store_large_object_size * MiB,
        large_object_chunk_size=options.swift_store_large_object_chunk_size * MiB,
        multiple_containers_seed=options.swift_store_multiple_containers_seed,
        description=description,
        weight=weight,
        chunk_size=chunk_size,
    )


# -- errors -------------------------------------------------------------------------------------------------
def _failure(store_id: str, exc: BaseException, what: str) -> GlimpseError:
    """This store's error for a failed Swift call."""
    if isinstance(exc, GlimpseError):
        return exc
    if isinstance(exc, swiftclient.ClientException):
        status = exc.http_status
        reason = f"{status} {exc.http_reason}".strip() if status else str(exc.msg)
        if status in (401, 403):
            return StoreUnavailable(f"Store {store_id} {what}: Swift refused our credentials ({reason})")
        if status in (413, 507):
            return StorageFull(f"Image storage media is full: store {store_id} {what}: {reason}")
        if status is None or status >= 500 or status in (408, 429, 499):
            return StoreUnavailable(f"Store {store_id} {what}: {reason}")
        return StoreError(f"Store {store_id} {what}: {reason}")
    if isinstance(exc, ks_exc.Unauthorized):
        return StoreUnavailable(f"Store {store_id} {what}: Keystone refused our credentials")
    if isinstance(exc, ks_exc.EndpointNotFound):
        return StoreUnavailable(f"Store {store_id} {what}: {exc} (the catalog has none; set swift_store_endpoint)")
    if isinstance(exc, ks_exc.ClientException | OSError):  # requests' errors are OSErrors
        return StoreUnavailable(f"Store {store_id} {what}: cannot reach Swift ({type(exc).__name__}: {exc})")
    return StoreError(f"Store {store_id} {what}: {type(exc).__name__}: {exc}")


# -- the data path between the event loop and an upload's thread ---------------------------------------------
class _Feed:
    """The blocks of one upload, from the event loop (``send``) to the thread that PUTs them (the rest)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.send, self.receive = anyio.create_memory_object_stream[bytes](FEED_DEPTH)
        self.aborted = False
        self._loop = loop
        self._pending: deque[bytes] = deque()
        self._pending_bytes = 0
        self._ended = False

    # thread side
    def _pull(self) -> bool:
        """One more block into the pending ones; False at the end of the stream."""
        while not self._ended:
            try:
                block = self._receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                if self.aborted:
                    raise _Aborted from None
                self._ended = True
                return False
            if block:
                self._pending.append(block)
                self._pending_bytes += len(block)
                return True
        return False

    def _receive(self) -> bytes:
        pending = asyncio.run_coroutine_threadsafe(self.receive.receive(), self._loop)
        while True:
            try:
                return pending.result(timeout=5)
            except TimeoutError:
                if self._loop.is_closed() or not self._loop.is_running():  # nobody will ever send the rest
                    pending.cancel()
                    raise _Aborted from None

    def buffer(self, limit: int) -> bool:
        """Hold up to ``limit`` bytes (plus one block): True when the stream ends within them."""
        while self._pending_bytes <= limit:
            if not self._pull():
                return True
        return False

    def take_buffered(self) -> bytes:
        data = b"".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        return data

    def at_end(self) -> bool:
        return not self._pending and not self._pull()

    def drained(self) -> bool:
        """Everything the event loop sent was taken (and the stream ended normally)."""
        return self._ended and not self._pending

    def take(self, limit: int | None, counter: list[int]) -> Iterator[bytes]:
        """A request body: the next ``limit`` bytes (all that is left when None); ``counter[0]`` counts them."""
        left = limit
        while left is None or left > 0:
            if not self._pending and not self._pull():
                return
            head = self._pending[0]
            if left is not None and len(head) > left:
                piece, self._pending[0] = head[:left], head[left:]
            else:
                piece = self._pending.popleft()
            self._pending_bytes -= len(piece)
            counter[0] += len(piece)
            if left is not None:
                left -= len(piece)
            yield piece

    def close_receiving(self) -> None:
        self._loop.call_soon_threadsafe(self.receive.close)


class _Catalog:
    """What swiftclient asks of a Keystone session (a token, the storage URL), the URL possibly overridden."""

    def __init__(self, session: ks_session.Session, endpoint: str | None) -> None:
        self._session = session
        self._endpoint = endpoint

    def get_token(self) -> str | None:
        return self._session.get_token()

    def get_endpoint(self, **filters: Any) -> str | None:
        return self._endpoint or self._session.get_endpoint(**filters)

    def invalidate(self) -> bool:
        return self._session.invalidate()


async def _settle(task: asyncio.Future[Any]) -> None:
    """Wait until ``task`` is done, whatever its outcome and even when we are being cancelled meanwhile (the
    cancellation then goes on once it is done)."""
    cancelled = False
    while not task.done():
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError


# -- the store ------------------------------------------------------------------------------------------------
class SwiftStore:
    type = "swift"

    def __init__(
        self,
        store_id: str,
        auth: SwiftAuth,
        *,
        container: str = "glance",
        create_container_on_put: bool = False,
        large_object_size: int = 5120 * MiB,
        large_object_chunk_size: int = 200 * MiB,
        multiple_containers_seed: int = 0,
        description: str = "",
        weight: int = 0,
        chunk_size: int = MiB,
    ) -> None:
        if large_object_size < 1 or large_object_chunk_size < 1:
            raise ValueError("large_object_size and large_object_chunk_size must be positive")
        self.id = store_id
        self.auth = auth
        self.container = container
        self.create_container_on_put = create_container_on_put
        self.large_object_size = large_object_size
        self.large_object_chunk_size = large_object_chunk_size
        self.multiple_containers_seed = multiple_containers_seed
        self.description = description
        self.weight = weight
        self.chunk_size = chunk_size
        self._lock = threading.Lock()
        self._idle: list[swiftclient.Connection] = []
        self._token: str | None = None
        self._storage_url: str | None = auth.endpoint.rstrip("/") if auth.endpoint else None
        self._session: ks_session.Session | None = None
        if auth.auth_version != "1":
            project, _, username = auth.user.partition(":")
            plugin = generic.Password(
                auth_url=auth.auth_address,
                username=username,
                password=auth.key,
                project_name=project,
                user_domain_id=auth.user_domain_id,
                user_domain_name=auth.user_domain_name,
                project_domain_id=auth.project_domain_id,
                project_domain_name=auth.project_domain_name,
            )
            verify: bool | str = False if auth.insecure else (auth.cacert or True)
            self._session = ks_session.Session(auth=plugin, verify=verify, timeout=TIMEOUT, app_name="glimpse")

    # -- connections (thread side) ----------------------------------------------------------------------
    def _new_connection(self) -> swiftclient.Connection:
        common: dict[str, Any] = {
            "retries": RETRIES,
            "starting_backoff": 0.5,
            "max_backoff": 2,
            "timeout": TIMEOUT,
            "insecure": self.auth.insecure,
            "cacert": self.auth.cacert,
        }
        if self._session is not None:
            os_options = {
                "service_type": self.auth.service_type,
                "endpoint_type": self.auth.endpoint_type,
                "region_name": self.auth.region,
                "object_storage_url": self.auth.endpoint,
            }
            session = _Catalog(self._session, self.auth.endpoint)
            return swiftclient.Connection(
                session=session, os_options={k: v for k, v in os_options.items() if v}, **common
            )
        return swiftclient.Connection(
            authurl=self.auth.auth_address,
            user=self.auth.user,
            key=self.auth.key,
            auth_version="1",
            preauthurl=self._storage_url,
            preauthtoken=self._token if self._storage_url else None,
            **common,
        )

    @contextmanager
    def _connection(self) -> Iterator[swiftclient.Connection]:
        """A connection of the pool for one call; one that failed is dropped rather than reused."""
        conn = self._open_connection()
        try:
            yield conn
        except BaseException:
            conn.close()
            raise
        self._release(conn)

    def _open_connection(self) -> swiftclient.Connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._new_connection()

    def _release(self, conn: swiftclient.Connection) -> None:
        """Back to the pool; the storage URL and token it signed in with serve the connections made next."""
        with self._lock:
            if conn.url and conn.token:
                self._storage_url = self._storage_url or conn.url.rstrip("/")
                self._token = conn.token
            if len(self._idle) < IDLE_CONNECTIONS:
                self._idle.append(conn)
                return
        conn.close()

    def _call(self, what: str, call: Callable[..., T], *args: Any) -> T:
        """Run ``call(connection, *args)`` on a pooled connection, reporting its failure as this store's error."""
        try:
            with self._connection() as conn:
                return call(conn, *args)
        except _Aborted:
            raise
        except Exception as exc:
            raise _failure(self.id, exc, what) from exc

    def _prefix(self) -> str:
        """``swift+<storage URL>/``: what every location of this store starts with (signs in when needed)."""
        if self._storage_url is None:
            self._call("cannot sign in", lambda conn: conn.get_auth())
        if self._storage_url is None:
            raise StoreUnavailable(
                f"Store {self.id}: the catalog has no {self.auth.service_type} endpoint ({self.auth.endpoint_type}"
                f"{', region ' + self.auth.region if self.auth.region else ''}); set swift_store_endpoint"
            )
        return f"swift+{self._storage_url}/"

    # -- names --------------------------------------------------------------------------------------------
    def _container_for(self, key: str) -> str:
        seed = self.multiple_containers_seed
        return f"{self.container}_{key[:seed]}" if seed else self.container

    def _is_data_container(self, name: str) -> bool:
        seed = self.multiple_containers_seed
        if not seed:
            return name == self.container
        return name.startswith(f"{self.container}_") and len(name) == len(self.container) + 1 + seed

    def _is_ours(self, container: str) -> bool:
        return self._is_data_container(container.removesuffix(SEGMENTS_SUFFIX))

    def _url(self, prefix: str, container: str, name: str) -> str:
        return f"{prefix}{quote(container, safe='')}/{quote(name, safe='/')}"

    def _locate(self, url: str) -> tuple[str, str]:
        """The container and object name a location of this store names; NotFound for anything else."""
        found = self._split(url, self._prefix())
        if found is None:
            raise NotFound(f"Location {url} does not belong to store {self.id}")
        return found

    def owns(self, url: str) -> bool:
        """A location under this store's storage URL, in one of its containers; or a Glance-style one (see the
        module's doc) naming one of its containers. Until the store has signed in once (when no
        swift_store_endpoint names the storage URL) the account cannot be told from the URL: any
        ``swift+http(s)`` URL ending in one of its containers and an object is taken, and reading it then
        answers NotFound when it is another account's."""
        with self._lock:
            known = self._storage_url
        return self._split(url, f"swift+{known}/" if known else None) is not None

    def _split(self, url: str, prefix: str | None) -> tuple[str, str] | None:
        if prefix is not None and url.startswith(prefix):
            container, _, name = url[len(prefix) :].partition("/")
        else:
            # Glance's own single-tenant locations: credentials and auth URL, or a swift_store_config_file
            # reference, then container and object; another storage URL than ours is another account's
            parsed = urlsplit(url)
            parts = parsed.path.rstrip("/").rsplit("/", 2)
            glance_style = parsed.scheme == "swift+config" or (
                parsed.scheme in LOCATION_SCHEMES and "@" in parsed.netloc
            )
            unknown_account = prefix is None and parsed.scheme in ("swift+http", "swift+https")
            if not (glance_style or unknown_account) or len(parts) < 3:
                return None
            container, name = parts[1], parts[2]
        container, name = unquote(container), unquote(name)
        if not name or not self._is_ours(container):
            return None
        return container, name

    # -- put ------------------------------------------------------------------------------------------------
    async def put(self, key: str, blocks: AsyncIterator[Block], size_hint: int | None = None) -> StoredObject:
        if not key or key.startswith("/"):
            raise StoreError(f"Store {self.id} cannot store an object under the key {key!r}")
        prefix = await anyio.to_thread.run_sync(self._prefix)
        loop = asyncio.get_running_loop()
        feed = _Feed(loop)
        # a thread of its own for the whole upload (not one of the shared worker threads, which it would hold
        # for as long as the client takes to send the image)
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"swift-{self.id}")
        writer = asyncio.ensure_future(loop.run_in_executor(thread, self._upload, key, feed, size_hint))
        thread.shutdown(wait=False)  # the thread ends with the upload
        try:
            try:
                async for block in blocks:
                    if writer.done():
                        break
                    await feed.send.send(bytes(block))
            except anyio.BrokenResourceError:
                pass  # the writer stopped; awaiting it tells why
            except BaseException:
                feed.aborted = True  # before the close: the writer must not take the end for a complete image
                raise
            finally:
                feed.send.close()
            container, name, size = await asyncio.shield(writer)
        except BaseException:
            await self._undo(writer)
            raise
        return StoredObject(url=self._url(prefix, container, name), size=size)

    async def _undo(self, writer: asyncio.Future[tuple[str, str, int]]) -> None:
        """After a failed or cancelled put: wait for its writer (which removes what it wrote when it fails),
        and remove the object when the writer completed all the same."""
        await _settle(writer)
        if writer.cancelled() or writer.exception() is not None:
            return
        container, name, _ = writer.result()
        removal = asyncio.ensure_future(anyio.to_thread.run_sync(self._delete, container, name))
        await _settle(removal)
        if not removal.cancelled() and (exc := removal.exception()) is not None:
            log.warning("store %s: could not remove %s/%s after a cancelled write: %s", self.id, container, name, exc)

    def _upload(self, key: str, feed: _Feed, size_hint: int | None) -> tuple[str, str, int]:
        """The writing thread: one PUT, or segments then their manifest. Returns (container, name, size)."""
        try:
            container = self._container_for(key)
            self._ensure_container(container)
            if size_hint is not None and size_hint <= self.large_object_size:
                return container, key, self._put_single(container, key, feed)
            if size_hint is None and feed.buffer(min(self.large_object_size, UNSIZED_SINGLE_PUT)):
                data = feed.take_buffered()
                self._call("cannot write", lambda conn: conn.put_object(container, key, data))
                return container, key, len(data)
            return container, key, self._put_large(container, key, feed, size_hint)
        finally:
            feed.close_receiving()

    def _ready(self, conn: swiftclient.Connection, container: str) -> None:
        """The container exists (created when the store may). Touching it also renews an expired token."""
        try:
            conn.head_container(container)
        except swiftclient.ClientException as exc:
            if exc.http_status != 404:
                raise
            if not self.create_container_on_put:
                raise StoreError(
                    f"Store {self.id}: container {container} does not exist (and "
                    f"swift_store_create_container_on_put is off)"
                ) from None
            conn.put_container(container)

    def _ensure_container(self, container: str) -> None:
        self._call(f"cannot use container {container}", self._ready, container)

    def _put_single(self, container: str, key: str, feed: _Feed) -> int:
        sent = [0]
        try:
            self._call("cannot write", self._stream, container, key, feed.take(None, sent))
        except BaseException:
            if feed.drained():
                # the whole body went out: the object may exist although the answer was lost
                self._remove_quietly(container, key)
            raise
        return sent[0]

    def _stream(
        self, conn: swiftclient.Connection, container: str, name: str, body: Iterator[bytes], **kwargs: Any
    ) -> str:
        """PUT a streamed body. The container is touched first: that renews an expired token (a streamed
        body cannot be sent twice, so the PUT itself must not meet a 401)."""
        self._ready(conn, container)
        etag: str = conn.put_object(container, name, contents=body, **kwargs)
        return etag

    def _segment_size(self, index: int, size_hint: int | None) -> int:
        chunk = self.large_object_chunk_size
        if size_hint is not None:
            size = max(chunk, math.ceil(size_hint / MAX_SEGMENTS))
        else:
            size = chunk << min(index // GROW_EVERY, 40)
        return min(size, MAX_OBJECT_SIZE)

    def _put_large(self, container: str, key: str, feed: _Feed, size_hint: int | None) -> int:
        segments_container = container + SEGMENTS_SUFFIX
        self._ensure_container(segments_container)
        if feed.at_end():  # a size hint above the threshold, and no data: an empty object, not an empty SLO
            self._call("cannot write", lambda conn: conn.put_object(container, key, b""))
            return 0
        token = secrets.token_hex(8)
        manifest: list[dict[str, object]] = []
        total = 0
        manifest_sent = False
        try:
            while True:
                name = f"{key}/{token}/{len(manifest) + 1:08d}"
                sent = [0]
                body = feed.take(self._segment_size(len(manifest), size_hint), sent)
                etag = self._call("cannot write a segment", self._stream, segments_container, name, body)
                manifest.append({"path": f"/{segments_container}/{name}", "etag": etag, "size_bytes": sent[0]})
                total += sent[0]
                if feed.at_end():
                    break
            document = json.dumps(manifest)
            manifest_sent = True
            self._call(
                "cannot write the manifest",
                lambda conn: conn.put_object(
                    container,
                    key,
                    document,
                    query_string="multipart-manifest=put",
                    headers={UPLOAD_META: token},
                    content_type="application/octet-stream",
                ),
            )
        except BaseException:
            if manifest_sent:
                self._remove_quietly(container, key)
            self._remove_group_quietly(segments_container, f"{key}/{token}/")
            raise
        return total

    # -- removal (thread side) ----------------------------------------------------------------------------
    def _delete_object(self, conn: swiftclient.Connection, container: str, name: str) -> bool:
        try:
            conn.delete_object(container, name)
        except swiftclient.ClientException as exc:
            if exc.http_status != 404:
                raise
            return False
        return True

    def _remove_quietly(self, container: str, name: str) -> None:
        try:
            self._call("cannot delete", self._delete_object, container, name)
        except Exception as exc:
            log.warning("store %s: could not remove %s/%s after a failed write: %s", self.id, container, name, exc)

    def _remove_group_quietly(self, container: str, group: str) -> None:
        try:
            self._remove_group(container, group)
        except Exception as exc:
            log.warning("store %s: could not remove the segments %s/%s: %s", self.id, container, group, exc)

    def _remove_group(self, container: str, group: str) -> None:
        """Delete every object named ``group*`` (the segments of one upload)."""

        def names(conn: swiftclient.Connection) -> list[str]:
            try:
                return [item["name"] for item in conn.get_container(container, prefix=group, full_listing=True)[1]]
            except swiftclient.ClientException as exc:
                if exc.http_status != 404:
                    raise
                return []

        for name in self._call("cannot list segments", names):
            self._call("cannot delete a segment", self._delete_object, container, name)

    def _delete(self, container: str, name: str) -> None:
        if container.endswith(SEGMENTS_SUFFIX) and name.endswith("/"):
            self._remove_group(container, name)  # an unfinished write's segments, as list_objects shows them
            return

        def manifest(conn: swiftclient.Connection) -> list[dict[str, Any]] | None:
            """The segments of an SLO (None: no such object; [] for an ordinary object)."""
            try:
                headers = conn.head_object(container, name)
                if headers.get("x-static-large-object", "").lower() != "true":
                    return []
                segments: list[dict[str, Any]] = json.loads(
                    conn.get_object(container, name, query_string="multipart-manifest=get")[1]
                )
                return segments
            except swiftclient.ClientException as exc:
                if exc.http_status != 404:
                    raise
                return None

        segments = self._call("cannot read", manifest)
        if segments is None:
            return
        self._call("cannot delete", self._delete_object, container, name)
        for segment in segments:
            seg_container, _, seg_name = str(segment["name"]).lstrip("/").partition("/")
            self._call("cannot delete a segment", self._delete_object, seg_container, seg_name)

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
                    raise _failure(self.id, exc, "cannot read") from exc
                except Exception as exc:
                    raise _failure(self.id, exc, "cannot read") from exc

            expected, body = await anyio.to_thread.run_sync(request)

            def read() -> bytes:
                try:
                    chunk: bytes = next(body, b"")
                    return chunk
                except Exception as exc:
                    raise _failure(self.id, exc, "failed while reading") from exc

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
