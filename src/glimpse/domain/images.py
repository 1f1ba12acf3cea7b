"""The image: its attributes, its status machine and the rules on its properties."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from glimpse.errors import BadRequest, Forbidden, InvalidTransition, ReadOnlyAttribute, ReservedAttribute


class Status(StrEnum):
    QUEUED = "queued"
    SAVING = "saving"
    UPLOADING = "uploading"
    IMPORTING = "importing"
    ACTIVE = "active"
    KILLED = "killed"
    DELETED = "deleted"
    DEACTIVATED = "deactivated"
    PENDING_DELETE = "pending_delete"


S = Status
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.QUEUED: frozenset({S.SAVING, S.UPLOADING, S.IMPORTING, S.ACTIVE, S.DELETED}),
    S.SAVING: frozenset({S.ACTIVE, S.KILLED, S.DELETED, S.QUEUED}),
    S.UPLOADING: frozenset({S.IMPORTING, S.QUEUED, S.DELETED}),
    # back to uploading: a glance-direct import failed and its staged data is still there for a retry
    S.IMPORTING: frozenset({S.ACTIVE, S.DELETED, S.QUEUED, S.UPLOADING}),
    S.ACTIVE: frozenset({S.PENDING_DELETE, S.DELETED, S.DEACTIVATED}),
    S.DEACTIVATED: frozenset({S.ACTIVE, S.DELETED}),
    S.PENDING_DELETE: frozenset({S.DELETED, S.ACTIVE}),
    S.KILLED: frozenset({S.DELETED}),
    S.DELETED: frozenset(),
}


def check_transition(current: Status | str, target: Status | str) -> None:
    """Raise InvalidTransition (a 409) unless the table allows moving from ``current`` to ``target``; staying
    in the same status is not a move. The image repository calls this on every status it writes."""
    current, target = Status(current), Status(target)
    if target != current and target not in TRANSITIONS[current]:
        raise InvalidTransition(current.value, target.value)


class Visibility(StrEnum):
    PUBLIC = "public"
    COMMUNITY = "community"
    SHARED = "shared"
    PRIVATE = "private"


class MemberStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


# Attributes the server owns: a client may never set them.
READ_ONLY = frozenset(
    {
        "id", "status", "size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value", "created_at",
        "updated_at", "self", "file", "schema", "direct_url", "stores",
        # the signature verification the data passed (data/signature.py): recorded by Glimpse only
        "img_signature_verified_certificate_uuid", "img_signature_verified_certificate_sha256",
        "img_signature_verified_trust_chain",
    }
)  # fmt: skip
# `id` may be given once, on create; everything else read-only stays read-only.
SETTABLE_ON_CREATE = frozenset({"id"})
RESERVED = frozenset({"location", "deleted", "deleted_at"})
RESERVED_PREFIX = "os_glance"
# Core attributes stored as columns (the rest are extra properties).
CORE = frozenset(
    {
        "name", "visibility", "protected", "os_hidden", "min_disk", "min_ram", "container_format",
        "disk_format", "owner", "tags", "locations",
    }
)  # fmt: skip
MAX_KEY_LENGTH = 255
MAX_VALUE_LENGTH = 65535


def check_settable(name: str, *, creating: bool = False) -> None:
    """Refuse a property a client may not set: read-only, reserved or in the reserved namespace."""
    if name in READ_ONLY and not (creating and name in SETTABLE_ON_CREATE):
        raise ReadOnlyAttribute(name)
    if name in RESERVED:
        raise ReservedAttribute(name)
    if name.startswith(RESERVED_PREFIX):
        raise Forbidden(f"Attribute '{name}' is reserved.")


def check_extra_property(name: str, value: object) -> None:
    if len(name) > MAX_KEY_LENGTH or not name:
        raise BadRequest(f"Property name must be 1 to {MAX_KEY_LENGTH} characters long: {name[:40]!r}")
    if not isinstance(value, str):
        raise BadRequest(f"Provided object does not match schema 'image': {value!r} is not of type 'string'")
    if len(value) > MAX_VALUE_LENGTH:
        raise BadRequest(f"Value of property {name!r} is longer than {MAX_VALUE_LENGTH} characters")


_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


def is_uuid(value: str) -> bool:
    return bool(_UUID_RE.match(value))


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(slots=True)
class Location:
    url: str
    store: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Digests:
    """What the data pipeline learned about an image's data: its size, md5 (``checksum``), the multihash
    and the virtual size to record (None when none is reported)."""

    size: int
    checksum: str | None
    hash_algo: str | None
    hash_value: str | None
    virtual_size: int | None = None
    verified: tuple[tuple[str, str], ...] = ()  # read-only properties the checks the data passed record


@dataclass(slots=True)
class Image:
    id: str
    owner: str | None
    created_at: datetime
    updated_at: datetime
    name: str | None = None
    status: Status = Status.QUEUED
    visibility: Visibility = Visibility.SHARED
    protected: bool = False
    os_hidden: bool = False
    min_disk: int = 0
    min_ram: int = 0
    container_format: str | None = None
    disk_format: str | None = None
    size: int | None = None
    virtual_size: int | None = None
    checksum: str | None = None
    os_hash_algo: str | None = None
    os_hash_value: str | None = None
    tags: set[str] = field(default_factory=set)
    properties: dict[str, str] = field(default_factory=dict)
    locations: list[Location] = field(default_factory=list)

    @property
    def stores(self) -> list[str]:
        seen: list[str] = []
        for location in self.locations:
            if location.store not in seen:
                seen.append(location.store)
        return seen

    def has_data(self) -> bool:
        return bool(self.locations)

    def activate(self, digests: Digests, locations: list[Location], now: datetime) -> None:
        """The image becomes active with the data described by ``digests`` at ``locations`` (added to any it
        has); InvalidTransition when its status may not move to active."""
        check_transition(self.status, Status.ACTIVE)
        self.status = Status.ACTIVE
        self.size = digests.size
        self.checksum = digests.checksum
        self.virtual_size = digests.virtual_size
        self.os_hash_algo = digests.hash_algo
        self.os_hash_value = digests.hash_value
        self.properties.update(digests.verified)
        self.locations = [*self.locations, *locations]
        self.updated_at = now

    def move_to(self, status: Status, now: datetime) -> None:
        """Any other change of status, checked against the table (InvalidTransition when not allowed)."""
        check_transition(self.status, status)
        self.status = status
        self.updated_at = now


@dataclass(slots=True)
class Member:
    image_id: str
    member_id: str
    status: MemberStatus
    created_at: datetime
    updated_at: datetime
