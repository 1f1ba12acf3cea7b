"""The locations API (Images API 2.17): give a queued image the data that already sits at a location, and
list an image's locations.

Adding a location only validates the request, moves the image to `importing` and records a durable
`location_import` task in one transaction (202). A worker then reads the data at the location once through
the store that owns it, through the data pipeline (`glimpse.data.pipeline`: size, md5, the multihash, the format
inspector, the image size cap and the project's quota), compares the hash with `validation_data` when the
caller gave one, and makes the image `active` with that location. When the data cannot be read, does not
match, or is unsafe, the task fails with the reason and the image goes back to `queued`. Nothing is ever
written or removed at the location.

A location must belong to a configured store (OSSN-0065, OSSN-0090): a ``file://`` URL must name a file in
a filesystem store's directory once ``..`` and symlinks are resolved, an ``http(s)://`` URL needs an enabled
store of type ``http`` and passes web-download's SSRF filtering (again at every read), and other schemes
need a store that owns them. A location may not point at the data of another image: not at a URL another
live image uses (except on a read-only http store, whose data is never removed), and not at an object named
by the id of another image, live or deleted; so a caller cannot read another project's image data through a
location, nor have it removed when its own image is deleted.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from glimpse.context import RequestContext
from glimpse.data import pipeline
from glimpse.data.atrest import AtRest
from glimpse.db import Database
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.formats import inspected
from glimpse.domain.images import Digests, Image, Location, Status, is_uuid, new_id
from glimpse.domain.quotas import Resource
from glimpse.domain.tasks import Task, TaskStatus, TaskType
from glimpse.errors import BadRequest, Conflict, NotFound
from glimpse.policy import Policy
from glimpse.services.image_data import image_hashes, plan, record
from glimpse.services.image_import import IMPORT_TASK, change_image
from glimpse.services.images import ImageService
from glimpse.services.quotas import Claim
from glimpse.services.task_queue import TASK_TTL, Outcome, Progress, Step, TaskQueue
from glimpse.settings import HASH_ALGORITHMS, Settings
from glimpse.stores.base import READ_ONLY_TYPES, Store
from glimpse.stores.filesystem import PARTIAL_SUFFIX
from glimpse.stores.registry import StoreRegistry

log = logging.getLogger(__name__)

MAX_URL_LENGTH = 255  # the length Glance's image schema allows a location URL
WEB_SCHEMES = ("http", "https")
_HEX = re.compile(r"[0-9a-fA-F]+")


@dataclass(frozen=True, slots=True)
class Validation:
    """The hash the caller says the data has (``validation_data``)."""

    algorithm: str
    value: str


def shown(url: str) -> str:
    """A URL for messages and logs: scheme, host, port and path, without credentials or query string."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return "<invalid URL>"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}{parts.path}{'?...' if parts.query else ''}"


def parse_request(body: Mapping[str, Any]) -> tuple[str, Validation | None]:
    """The body of ``POST /v2/images/{id}/locations``: ``url`` and the optional ``validation_data``."""
    unknown = sorted(set(body) - {"url", "validation_data"})
    if unknown:
        raise BadRequest(f"Unknown attribute(s) in the location request: {', '.join(unknown)}")
    url = body.get("url")
    if not isinstance(url, str) or not url:
        raise BadRequest("A location request needs a 'url', a non-empty string")
    if len(url) > MAX_URL_LENGTH:
        raise BadRequest(f"The location URL is longer than {MAX_URL_LENGTH} characters")
    data = body.get("validation_data")
    if data is None or data == {}:
        return url, None
    if not isinstance(data, dict):
        raise BadRequest("'validation_data' must be an object with 'os_hash_algo' and 'os_hash_value'")
    extra = sorted(set(data) - {"os_hash_algo", "os_hash_value"})
    if extra:
        raise BadRequest(f"Unknown attribute(s) in validation_data: {', '.join(extra)}")
    algorithm, value = data.get("os_hash_algo"), data.get("os_hash_value")
    if algorithm is None or value is None:
        raise BadRequest("validation_data needs both 'os_hash_algo' and 'os_hash_value'")
    if not isinstance(algorithm, str) or algorithm not in HASH_ALGORITHMS:
        raise BadRequest(f"os_hash_algo must be one of {', '.join(HASH_ALGORITHMS)}")
    digits = hashlib.new(algorithm).digest_size * 2
    if not isinstance(value, str) or len(value) != digits or not _HEX.fullmatch(value):
        raise BadRequest(f"os_hash_value must be the {digits} hexadecimal digits of a {algorithm} digest")
    return url, Validation(algorithm=algorithm, value=value.lower())


def _image_ids_in(url: str) -> set[str]:
    """The path segments of ``url`` that look like image ids (stores name objects after their image)."""
    path = urlsplit(url).path
    return {segment for segment in unquote(path).split("/") if is_uuid(segment)}


def _holder(task: Task) -> str:
    return f"location:{task.id}"


class LocationService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        policy: Policy,
        images: ImageService,
        stores: StoreRegistry,
        check_url: Callable[[str], None],
        queue: TaskQueue,
    ) -> None:
        self.settings = settings
        self.db = db
        self.policy = policy
        self.images = images
        self.stores = stores
        self.check_url = check_url  # web-download's early filtering of an http(s) URL (400 when refused)
        self.at_rest = AtRest()  # the stores that encrypt at rest (the container sets it)
        self.queue = queue

    # -- the API calls --------------------------------------------------------------------------------
    async def list(self, ctx: RequestContext, image_id: str) -> list[dict[str, Any]]:
        """``GET /v2/images/{id}/locations``: every location with its store (services only by default)."""
        image = await self.images.load(ctx, image_id, "fetch_image_location")
        return [{"url": loc.url, "metadata": {**loc.metadata, "store": loc.store}} for loc in image.locations]

    async def add(self, ctx: RequestContext, image_id: str, body: Mapping[str, Any]) -> Task:
        """``POST /v2/images/{id}/locations``: record the task that makes a queued image active from the data
        at a location."""
        url, validation = parse_request(body)
        image = await self.images.load(ctx, image_id, "add_image_location")
        store = self.store_for(url)
        now = utcnow()
        task_input: dict[str, Any] = {"image_id": image_id, "url": url, "store": store.id}
        self.images.keys.admit(image)
        task_input.update(await self.images.signatures.task_input(ctx, image))
        if validation is not None:
            task_input["validation_data"] = {"os_hash_algo": validation.algorithm, "os_hash_value": validation.value}
        task = Task(
            id=new_id(), type=TaskType.LOCATION_IMPORT, status=TaskStatus.PENDING, owner=image.owner,
            created_at=now, updated_at=now, image_id=image_id, user_id=ctx.user_id, request_id=ctx.request_id,
            input=task_input, expires_at=now + TASK_TTL,
        )  # fmt: skip

        def work(session: Any) -> None:
            repo = ImageRepository(session)
            current = repo.get(image_id, ctx, for_update=True)
            if current.status != Status.QUEUED:  # a queued image has no locations yet: no duplicate to check
                raise Conflict(f"It's not allowed to add locations if image status is {current.status.value}.")
            if store.type not in READ_ONLY_TYPES:
                refuse_other_images_data(repo, current, url)
            current.move_to(Status.IMPORTING, now)
            current.properties[IMPORT_TASK] = task.id
            current.updated_at = now
            repo.save(current)
            self.queue.enqueue(session, task)

        await self.images.quotas.claim_and_commit(
            image.owner,
            {Resource.IMAGE_COUNT_UPLOADING: 1},
            lambda: self.db.run(work),
            holder=_holder(task),
            hold=TASK_TTL,
            then_drop=[Resource.IMAGE_COUNT_UPLOADING],  # the image counts as uploading while importing
        )
        log.info("image %s: location %s in store %s added, task %s", image_id, shown(url), store.id, task.id)
        return task

    def store_for(self, url: str) -> Store:
        """The configured store ``url`` belongs to; BadRequest saying why there is none."""
        return resolve_store(self.stores, self.check_url, url)

    # -- running a task (called by a worker) ----------------------------------------------------------
    async def run(self, task: Task, progress: Progress) -> Outcome:
        """Read the data at the location once, check it, and make the image active with the location."""
        image_id = task.image_id
        assert image_id is not None
        url = str(task.input["url"])
        image = await self.db.run(lambda s: ImageRepository(s).get(image_id, None))
        store = self.store_for(url)  # again: the configuration (or the filtering) may have changed since
        given = task.input.get("validation_data") or {}
        algorithm = given.get("os_hash_algo") or self.settings.hashing_algorithm
        claim = await self.images.quotas.resume(image.owner, _holder(task), hold=TASK_TTL)
        source = self.at_rest.stream(store, url)  # a sealed object of the store is read decrypted
        try:
            steps = plan(
                self.settings,
                algorithms=image_hashes(self.settings, algorithm),
                inspect=inspected(image.container_format),
                quota=functools.partial(claim.cover, Resource.IMAGE_SIZE_TOTAL),
                progress=lambda done: progress(done, None),
                checks=(self.images.signatures.for_task(task.input, image),),
            )
            out = await pipeline.run(source, steps, [], image_id)  # read and checked, written nowhere
            digests = record(self.settings, image, out, algorithm)
            expected = given.get("os_hash_value")
            if expected and digests.hash_value != expected:
                raise BadRequest(
                    f"The data at location {shown(url)} does not match validation_data: its {algorithm} is "
                    f"{digests.hash_value}, not {expected}"
                )
            return Outcome(
                result={"image_id": image_id, "store": store.id, "size": digests.size},
                finish=self._finish(task, store, url, digests, claim),
            )
        except BaseException:
            await asyncio.shield(claim.release())
            raise
        finally:
            close = getattr(source, "aclose", None)  # a failed read leaves it suspended: close the connection or file
            if close is not None:
                await close()

    def _finish(self, task: Task, store: Store, url: str, digests: Digests, claim: Claim[Resource]) -> Step:
        """The image made active with its location, in the transaction that marks the task a success."""
        image_id = task.image_id
        assert image_id is not None

        def finish(session: Any) -> None:
            repo = ImageRepository(session)
            try:
                image = repo.get(image_id, None, for_update=True)
            except NotFound:
                raise Conflict(f"Image {image_id} was deleted while the data at its location was read") from None
            if image.status != Status.IMPORTING or image.properties.get(IMPORT_TASK) != task.id:
                raise Conflict(f"Image {image_id} changed while the data at its location was read")
            if store.type not in READ_ONLY_TYPES:
                refuse_other_images_data(repo, image, url)  # another image may have taken it meanwhile
            image.activate(digests, [Location(url=url, store=store.id)], utcnow())
            repo.save(image)
            # its size counts from this commit on, instead of the hold (which a refused finish leaves to undo)
            claim.settle(session)
            log.info("image %s: active from location %s (%d bytes)", image_id, shown(url), digests.size)

        return finish

    async def undo(self, task: Task, reason: str) -> Step:
        """Undo a location import that will not complete: the image goes back to `queued`. The data at the
        location is left as it is: it was never Glimpse's."""
        image_id = task.image_id
        assert image_id is not None

        def undo(image: Image) -> bool:
            if image.status != Status.IMPORTING or image.properties.get(IMPORT_TASK) != task.id:
                return False
            image.move_to(Status.QUEUED, utcnow())
            return True

        await asyncio.shield(self.images.quotas.release(_holder(task), None))
        log.warning("location import task %s for image %s failed: %s", task.id, image_id, reason)
        return change_image(image_id, undo)

    def on_progress(self, task: Task, done: int, total: int | None, session: Any) -> None:
        """The heartbeat already records the bytes read on the task; the image shows nothing more."""


def resolve_store(stores: StoreRegistry, check_url: Callable[[str], None], url: str) -> Store:
    """The configured store a location ``url`` belongs to (the locations API and location PATCH both ask);
    BadRequest saying why there is none. ``check_url`` is web-download's filtering of http(s) URLs."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        raise BadRequest("The location is not a valid URL") from None
    if not scheme:
        raise BadRequest(f"The location {url!r} is not a URL: it has no scheme")
    if scheme in WEB_SCHEMES:
        if not any(store.type == "http" for store in stores):
            raise BadRequest(
                f"Location {shown(url)} cannot be added: http(s) locations need an enabled store of type "
                f"http (enabled_backends = <name>:http)"
            )
        check_url(url)
    try:
        return stores.store_for_url(url)
    except BadRequest:
        pass
    if scheme == "file":
        if not any(store.type == "file" for store in stores):
            raise BadRequest(f"Location {shown(url)} cannot be added: no filesystem store is configured")
        raise BadRequest(
            f"Location {shown(url)} is not a file in the directory of a configured filesystem store "
            f"(after resolving '..' and symbolic links)"
        )
    raise BadRequest(f"Location {shown(url)} does not belong to any configured store ({scheme} URLs)")


def refuse_other_images_data(repo: ImageRepository, image: Image, url: str) -> None:
    """A location may not name data that belongs to another image (BadRequest)."""
    if repo.using_location(url) - {image.id}:
        raise BadRequest(f"Location {shown(url)} holds the data of another image: it cannot be added to this one")
    for other in _image_ids_in(url) - {image.id}:
        if repo.exists_any(other):
            raise BadRequest(f"Location {shown(url)} names the data of another image: it cannot be added to this one")
    if urlsplit(url).path.endswith(PARTIAL_SUFFIX):
        raise BadRequest(f"Location {shown(url)} is an unfinished write: it cannot be added to an image")
