"""Signing in to Swift (tempauth or Keystone), the pool of swiftclient connections, errors, and names."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit

import swiftclient
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import generic

from glimpse.errors import GlimpseError, NotFound, StorageFull, StoreError, StoreUnavailable

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


class UploadAborted(Exception):
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


# -- errors -------------------------------------------------------------------------------------------------
def failure(store_id: str, exc: BaseException, what: str) -> GlimpseError:
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


# -- the base of the store ---------------------------------------------------------------------------------------
class SwiftBase:
    """The store's settings, its pool of connections (signed in, reused) and where its objects are."""

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
        # container checks and creations of this store, one at a time (see SwiftWriter._ensure_container)
        self._container_lock = threading.Lock()
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
        except UploadAborted:
            raise
        except Exception as exc:
            raise failure(self.id, exc, what) from exc

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
