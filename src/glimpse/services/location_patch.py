"""The legacy location operations of image PATCH (``/locations`` and ``/locations/N``), as Glance 33 has them.

They exist only while the operator shows locations (``show_multiple_locations``; off by default, and then
every such operation is a 403). Who may do what is policy: ``set_image_location`` for ``add`` and
``replace``, ``delete_image_location`` (admin by default) for ``remove``.

- ``add /locations/N`` (or ``/locations/-``) inserts a location on a queued or active image. A queued image
  becomes active with the size the store reports and the hashes of ``validation_data`` (the data is not
  read: as in Glance, the caller vouches for it; values the image already has must be the same).
- ``replace /locations`` on an image that has locations may only change their metadata: the new list must
  name the same URLs, so an active image's data cannot be swapped (OSSN-0065). On an image with none it
  sets the whole list.
- ``remove /locations/N`` drops one location of an active image (never the last) and deletes its data.

A new location must be a URL a configured store owns and reports a size for; ``file://`` (and Glance's
other restricted schemes) is refused as in Glance, ``http(s)`` URLs pass web-download's filtering, and a
location may not name another image's data (OSSN-0090). Checking a URL may cost a request to a store, so it
is done before the database transaction, after the policy and status checks; the transaction repeats the
cheap checks on the locked row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from glimpse.context import RequestContext
from glimpse.db.repositories.images import ImageRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.images import Digests, Image, Location, Status
from glimpse.domain.patch import PatchOp
from glimpse.errors import BadRequest, Conflict, Forbidden, StoreError, TooLarge
from glimpse.policy import Policy
from glimpse.services.images import enforce_on_image
from glimpse.services.locations import refuse_other_images_data, resolve_store, shown
from glimpse.services.schemas import Schemas
from glimpse.settings import Settings
from glimpse.stores.base import READ_ONLY_TYPES, Store
from glimpse.stores.registry import StoreRegistry

RESTRICTED_SCHEMES = frozenset({"file", "filesystem", "swift+config"})  # never external locations (Glance)
VALIDATION_KEYS = ("checksum", "os_hash_algo", "os_hash_value")


@dataclass(frozen=True, slots=True)
class CheckedUrl:
    store: Store
    size: int


@dataclass(slots=True)
class Checked:
    """What :meth:`LocationPatch.prepare` learnt before the transaction: each new URL's store and size."""

    urls: dict[str, CheckedUrl] = field(default_factory=dict)
    removed: list[Location] = field(default_factory=list)  # filled by apply(): data to delete after commit


def touches_locations(ops: Sequence[PatchOp]) -> bool:
    return any(op.path[0] == "locations" for op in ops)


def _metadata(value: Mapping[str, Any]) -> dict[str, Any]:
    """The metadata a client gave, without ``store``: the store is the one that owns the URL."""
    return {key: item for key, item in dict(value.get("metadata") or {}).items() if key != "store"}


def _values(op: PatchOp) -> list[dict[str, Any]]:
    if op.op == "remove":
        return []
    return list(op.value) if op.path == ("locations",) else [op.value]


def _position(raw: str, length: int, *, adding: bool) -> int | None:
    """Glance's reading of ``/locations/N``: digits or ``-`` (the end when adding, the last when removing)."""
    position = length if adding else length - 1
    if raw.isdigit():
        position = int(raw)
    elif raw != "-":
        return None
    if not adding and not 0 <= position < length:
        return None
    return position


class LocationPatch:
    def __init__(
        self,
        settings: Settings,
        policy: Policy,
        schemas: Schemas,
        stores: StoreRegistry,
        check_url: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self.policy = policy
        self.schemas = schemas
        self.stores = stores
        self.check_url = check_url

    # -- before the transaction -----------------------------------------------------------------------
    def validate_values(self, ops: Sequence[PatchOp]) -> None:
        """The shape of each location given (Glance validates them against the image schema)."""
        for op in ops:
            if op.path[0] != "locations" or op.op == "remove":
                continue
            value = op.value if op.path == ("locations",) else [op.value]
            self.schemas.validate_image({"locations": value})

    async def prepare(self, ctx: RequestContext, image: Image, ops: Sequence[PatchOp]) -> Checked:
        """Check what can be checked on the image as loaded, then each URL new to it: its store and size."""
        self.validate_values(ops)
        checked = Checked()
        known = {location.url for location in image.locations}
        for op in ops:
            if op.path[0] != "locations":
                continue
            self.check_allowed(ctx, image, op)
            for value in _values(op):
                url = str(value["url"])
                if url not in known and url not in checked.urls:
                    checked.urls[url] = await self._check_url(url)
        return checked

    async def _check_url(self, url: str) -> CheckedUrl:
        """The store owning ``url`` and the size it reports; 400 "Invalid location" as Glance otherwise."""
        try:
            scheme = urlsplit(url).scheme.lower()
        except ValueError:
            raise BadRequest("Invalid location") from None
        if scheme in RESTRICTED_SCHEMES:
            raise BadRequest(f"Invalid location: {scheme} URLs cannot be added to an image")
        try:
            store = resolve_store(self.stores, self.check_url, url)
        except BadRequest as exc:
            raise BadRequest(f"Invalid location: {exc.message}") from None
        try:
            size = await store.stat(url)
        except StoreError as exc:
            raise BadRequest(f"Invalid location: store {store.id} cannot read {shown(url)}: {exc}") from None
        if not size:
            raise BadRequest(f"Invalid location: {shown(url)} holds no data")
        return CheckedUrl(store=store, size=size)

    # -- the rules, before and in the transaction -----------------------------------------------------
    def check_allowed(self, ctx: RequestContext, image: Image, op: PatchOp) -> None:
        """Glance's order: an empty replace, the policy, the option, the image's status."""
        if op.op == "replace" and not op.value:
            raise Forbidden("Cannot set locations to empty list.")
        rule = "delete_image_location" if op.op == "remove" else "set_image_location"
        enforce_on_image(self.policy, ctx, rule, image)
        if not self.settings.show_multiple_locations:
            verb = "update" if op.op == "replace" else op.op
            raise Forbidden(f"It's not allowed to {verb} locations if locations are invisible.")
        allowed = (Status.ACTIVE,) if op.op == "remove" else (Status.ACTIVE, Status.QUEUED)
        if image.status not in allowed:
            raise Conflict(f"It's not allowed to {op.op} locations if image status is {image.status.value}.")

    def apply(
        self, ctx: RequestContext, repo: ImageRepository, image: Image, op: PatchOp, checked: Checked
    ) -> None:
        """Apply one location operation to the locked ``image``."""
        self.check_allowed(ctx, image, op)
        if op.op == "remove":
            self._remove(image, op.path[1], checked)
        elif op.op == "add":
            self._add(repo, image, op.path[1], op.value, checked)
        else:
            self._replace(repo, image, list(op.value), checked)

    def _add(self, repo: ImageRepository, image: Image, raw: str, value: dict[str, Any], checked: Checked) -> None:
        new_values = self._validation_data(image, [value])
        position = _position(raw, len(image.locations), adding=True)
        if position is None:
            raise BadRequest("Invalid position for adding a location.")
        location = self._new_location(repo, image, value, checked)
        if any(loc.url == location.url and loc.metadata == location.metadata for loc in image.locations):
            raise BadRequest(f"The location {shown(location.url)} already exists")
        locations = list(image.locations)
        locations.insert(position, location)
        self._check_quota(locations)
        image.locations = locations
        self._set_size(image, [location], checked)
        self._activate(image, new_values)

    def _replace(self, repo: ImageRepository, image: Image, values: list[dict[str, Any]], checked: Checked) -> None:
        new_values = self._validation_data(image, values)
        urls = sorted(str(value["url"]) for value in values)
        current = sorted(location.url for location in image.locations)
        if image.locations and urls != current:
            raise BadRequest(
                "Original locations is not empty: the locations of an image that has some can only be given "
                "again with other metadata, not replaced"
            )
        if urls == current:  # the same URLs: only their metadata changes
            stores = {location.url: location.store for location in image.locations}
            image.locations = [
                Location(url=str(value["url"]), store=stores[str(value["url"])], metadata=_metadata(value))
                for value in values
            ]
            return
        locations: list[Location] = []
        for value in values:
            location = self._new_location(repo, image, value, checked)
            if any(loc.url == location.url and loc.metadata == location.metadata for loc in locations):
                raise BadRequest(f"The location {shown(location.url)} already exists")
            locations.append(location)
        self._check_quota(locations)
        image.locations = locations
        self._set_size(image, locations, checked)
        self._activate(image, new_values)

    @staticmethod
    def _remove(image: Image, raw: str, checked: Checked) -> None:
        if len(image.locations) == 1:
            raise Forbidden("Cannot remove last location in the image.")
        position = _position(raw, len(image.locations), adding=False)
        if position is None:
            raise BadRequest("Invalid position for removing a location.")
        locations = list(image.locations)
        removed = locations.pop(position)
        image.locations = locations
        checked.removed.append(removed)

    # -- helpers --------------------------------------------------------------------------------------
    def _new_location(
        self, repo: ImageRepository, image: Image, value: Mapping[str, Any], checked: Checked
    ) -> Location:
        url = str(value["url"])
        known = next((location for location in image.locations if location.url == url), None)
        if known is not None:  # a URL the image has (with other metadata): its store was checked already
            return Location(url=url, store=known.store, metadata=_metadata(value))
        found = checked.urls.get(url)
        if found is None:
            raise Conflict(f"Image {image.id} changed while its new locations were checked; try again")
        if found.store.type not in READ_ONLY_TYPES:
            refuse_other_images_data(repo, image, url)
        return Location(url=url, store=found.store.id, metadata=_metadata(value))

    def _check_quota(self, locations: list[Location]) -> None:
        limit = self.settings.image_location_quota
        if limit >= 0 and len(locations) > limit:
            raise TooLarge(
                f"The limit has been exceeded on the number of allowed image locations. "
                f"Attempted: {len(locations)}, Maximum: {limit}"
            )

    @staticmethod
    def _set_size(image: Image, locations: list[Location], checked: Checked) -> None:
        if image.size:
            return
        for location in locations:
            found = checked.urls.get(location.url)
            if found is not None and found.size:
                image.size = found.size
                return

    def _activate(self, image: Image, new_values: dict[str, str]) -> None:
        if image.status != Status.QUEUED:
            return
        missing = [name for name in ("disk_format", "container_format") if not getattr(image, name)]
        if missing:
            noun = "Property" if len(missing) == 1 else "Properties"
            raise BadRequest(f"{noun} {', '.join(missing)} must be set prior to saving data.")
        # the data is where the locations say (its size from their store), its hashes are what the caller vouched
        digests = Digests(
            size=image.size or 0,
            checksum=new_values.get("checksum", image.checksum),
            hash_algo=new_values.get("os_hash_algo", image.os_hash_algo),
            hash_value=new_values.get("os_hash_value", image.os_hash_value),
            virtual_size=image.virtual_size,
        )
        image.activate(digests, [], utcnow())

    def _validation_data(self, image: Image, values: list[dict[str, Any]]) -> dict[str, str]:
        """Glance's rules for ``validation_data``: the same values throughout the request, equal to what the
        image has or, for a queued image, new values of the configured algorithm (all 409 otherwise)."""
        given: dict[str, str] = {}
        for value in values:
            for key, item in dict(value.get("validation_data") or {}).items():
                if given.get(key, item) != item:
                    raise Conflict(f"Conflicting values for {key}")
                given[key] = item
        new_values: dict[str, str] = {}
        for key, item in given.items():
            current = getattr(image, key)
            if item == current:
                continue
            if current:
                raise Conflict(f"{key} is already set with a different value")
            new_values[key] = item
        if not new_values:
            return {}
        if image.status != Status.QUEUED:
            raise Conflict(
                f"New value(s) for {', '.join(new_values)} may only be provided when image status is 'queued'"
            )
        if "checksum" in new_values:
            _hex_of_size(new_values["checksum"], 16, "checksum", "md5")
        algorithm = new_values.get("os_hash_algo")
        if algorithm != self.settings.hashing_algorithm:
            raise Conflict(f"os_hash_algo must be {self.settings.hashing_algorithm}, not {algorithm}")
        digest_size = hashlib.new(algorithm).digest_size
        _hex_of_size(new_values.get("os_hash_value", ""), digest_size, "os_hash_value", algorithm)
        return new_values


def _hex_of_size(value: str, size: int, name: str, algorithm: str) -> None:
    try:
        digest = bytes.fromhex(value)
    except ValueError:
        raise Conflict(f"{name} ({value}) is not a valid hexadecimal value") from None
    if len(digest) != size:
        raise Conflict(f"{name} ({value}) is not the correct size for {algorithm} (should be {size} bytes)")
