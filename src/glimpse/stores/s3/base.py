"""What the parts of the S3 store share: the client, its locations, the calls run in worker threads and their
errors, the bucket looked up (or created) once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote, unquote, urlsplit

import anyio.to_thread
import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from glimpse.errors import NotFound, StoreError
from glimpse.stores.s3.errors import error_code, failure, http_status
from glimpse.stores.s3.options import S3Options
from glimpse.stores.s3.transfer import send_streamed_with_trailer

log = logging.getLogger("glimpse.stores.s3.store")  # the name the store has always logged under

T = TypeVar("T")


class S3Base:
    """The collaborators of :class:`S3Store`'s parts: the options, the boto3 client, the bucket's state."""

    def __init__(
        self, store_id: str, options: S3Options, *, description: str = "", weight: int = 0, chunk_size: int = 1 << 20
    ) -> None:
        self.id = store_id
        self.options = options
        self.bucket = options.bucket
        self.description = description
        self.weight = weight
        self.chunk_size = chunk_size
        endpoint = urlsplit(options.endpoint)
        self._scheme = "s3" if endpoint.scheme == "https" else "s3+http"
        self._netloc = (endpoint.netloc.rpartition("@")[2]).lower()
        self._bucket_exists = False
        # one bucket check (and creation) at a time: see _ensure_bucket
        self._bucket_lock = threading.Lock()
        config = Config(
            region_name=options.region,
            signature_version="s3v4",
            s3={"addressing_style": options.addressing_style, "payload_signing_enabled": False},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=10,
            read_timeout=60,
            tcp_keepalive=True,
            # parts of several uploads at once, reads and the rest: enough that connections get reused
            max_pool_connections=max(32, 4 * options.thread_pools),
        )
        session = boto3.session.Session()
        self.client: Any = session.client(
            "s3",
            endpoint_url=options.endpoint,
            aws_access_key_id=options.access_key,
            aws_secret_access_key=options.secret_key,
            region_name=options.region,
            verify=options.cacert if options.cacert else None,
            config=config,
        )
        self.client.meta.events.register("before-call.s3.PutObject", send_streamed_with_trailer)

    # -- locations -------------------------------------------------------------------------------------
    def url_for(self, key: str) -> str:
        return f"{self._scheme}://{self._netloc}/{quote(self.bucket, safe='')}/{quote(key, safe='')}"

    def _partial_url(self, key: str, upload_id: str) -> str:
        return f"{self.url_for(key)}?uploadId={quote(upload_id, safe='')}"

    def _locate(self, url: str) -> tuple[str, str | None]:
        """(key, upload id of an unfinished write or None) of a location of this store; NotFound otherwise."""
        scheme, sep, rest = url.partition("://")
        if not sep or scheme.lower() not in ("s3", "s3+http", "s3+https"):
            raise NotFound(f"Location {url} does not belong to store {self.id}")
        rest, _, query = rest.partition("?")
        # locations written by Glance may carry credentials (``access:secret@host``; a secret may hold '/')
        rest = rest.rpartition("@")[2]
        netloc, _, path = rest.partition("/")
        bucket, _, key = path.partition("/")
        if netloc.lower() != self._netloc or unquote(bucket) != self.bucket or not key:
            raise NotFound(f"Location {url} does not belong to store {self.id}")
        upload_ids = parse_qs(query).get("uploadId") if query else None
        return unquote(key), upload_ids[0] if upload_ids else None

    def owns(self, url: str) -> bool:
        """An ``s3://`` (or ``s3+http(s)://``) location of an object in this store's bucket on its endpoint."""
        try:
            _, upload_id = self._locate(url)
        except NotFound:
            return False
        return upload_id is None

    # -- blocking calls (run in worker threads) --------------------------------------------------------
    def _fail(self, exc: Exception, what: str, *, writing: bool = False) -> StoreError:
        if isinstance(exc, ClientError) and error_code(exc) == "NoSuchBucket":
            self._bucket_exists = False
        return failure(self.id, self.bucket, exc, what, writing=writing)

    async def _thread(self, call: Callable[..., T], *args: Any, what: str, writing: bool = False) -> T:
        try:
            return await anyio.to_thread.run_sync(call, *args)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, what, writing=writing) from exc

    # -- the bucket -------------------------------------------------------------------------------------
    def _explained(self, exc: ClientError) -> ClientError:
        """A HEAD's error has no body, so no code: a bad secret and a missing permission both look like
        "403". A GET of the bucket (no keys) tells which; its error, when it has one, replaces the HEAD's (a
        "404" may also be the bucket's)."""
        if error_code(exc) not in ("400", "403", "404"):
            return exc
        try:
            self.client.list_objects_v2(Bucket=self.bucket, MaxKeys=0)
        except ClientError as explained:
            if not error_code(explained).isdigit():
                return explained
        except BotoCoreError:
            pass
        return exc

    def _ensure_bucket(self, create: bool, *, known: bool = False) -> None:
        """The bucket exists (created when ``create``); raises botocore's error otherwise. With ``known``, a
        bucket this store has already seen is not looked up again.

        One call at a time per store, the others wait and then see the bucket: concurrent first writes must
        not look the bucket up while one of them creates it. Swift's proxy caches a container's "404" (for a
        tenth of ``recheck_container_existence``, 6 s by default) when that lookup's answer comes back, and a
        lookup answered "not found" just before the creation can store that answer just after the creation
        cleared the cache; every object PUT then fails with NoSuchBucket until the entry expires. Checked
        one after the other, the lookup's 404 is cached before the creation clears it.
        """
        with self._bucket_lock:
            if known and self._bucket_exists:
                return
            self._look_up_or_create_bucket(create)
            self._bucket_exists = True

    def _look_up_or_create_bucket(self, create: bool) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if http_status(exc) != 404 and error_code(exc) not in ("404", "NoSuchBucket"):
                raise self._explained(exc) from None
            if not create:
                raise StoreError(
                    f"Store {self.id}: its bucket {self.bucket} does not exist "
                    f"(and s3_store_create_bucket_on_put is off)"
                ) from None
        params: dict[str, Any] = {"Bucket": self.bucket}
        if self.options.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.options.region}
        try:
            self.client.create_bucket(**params)
        except ClientError as exc:
            if error_code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
            self.client.head_bucket(Bucket=self.bucket)  # created meanwhile: ours if we can see it
        log.info("store %s: created bucket %s", self.id, self.bucket)
