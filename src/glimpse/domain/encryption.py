"""Native image encryption metadata (the ``os_encrypt_*`` / ``os_decrypt_*`` property set).

An image whose data is encrypted by its owner carries the format, the key's id in the key manager and what to
do with the key when the image goes. The set is all or nothing: either the required properties are all there
(with valid values) or none of the set is. Cinder's older names for the key id and deletion policy are read
as equivalents. Glimpse never sees the plaintext; these properties only describe it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from glimpse.errors import BadRequest

FORMAT = "os_encrypt_format"
CIPHER = "os_encrypt_cipher"
KEY_ID = "os_encrypt_key_id"
DELETION_POLICY = "os_encrypt_key_deletion_policy"
DECRYPT_CONTAINER_FORMAT = "os_decrypt_container_format"
DECRYPT_SIZE = "os_decrypt_size"

LEGACY_KEY_ID = "cinder_encryption_key_id"
LEGACY_DELETION_POLICY = "cinder_encryption_key_deletion_policy"
KEY_IDS = (KEY_ID, LEGACY_KEY_ID)  # the properties naming the key

ON_IMAGE_DELETION = "on_image_deletion"
DO_NOT_DELETE = "do_not_delete"
DELETION_POLICIES = (ON_IMAGE_DELETION, DO_NOT_DELETE)
FORMATS = ("LUKS", "GPG")

ALL = (FORMAT, CIPHER, KEY_ID, DELETION_POLICY, DECRYPT_CONTAINER_FORMAT, DECRYPT_SIZE)
REQUIRED = (FORMAT, KEY_ID)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class Encryption:
    """The validated encryption metadata of an image."""

    format: str
    key_id: str
    deletion_policy: str
    cipher: str | None = None
    decrypt_container_format: str | None = None
    decrypt_size: int | None = None

    @property
    def deletes_key(self) -> bool:
        return self.deletion_policy == ON_IMAGE_DELETION


def _bad(message: str) -> BadRequest:
    return BadRequest(f"Invalid image encryption metadata: {message}")


def parse(properties: Mapping[str, str], *, container_formats: Sequence[str] = ()) -> Encryption | None:
    """The image's encryption metadata, ``None`` when it has none; ``BadRequest`` when the set is incomplete
    or a value is invalid."""
    native = {name: properties[name] for name in ALL if name in properties}
    key_id = native.get(KEY_ID)
    legacy_key = properties.get(LEGACY_KEY_ID)
    policy = native.get(DELETION_POLICY)
    legacy_policy = properties.get(LEGACY_DELETION_POLICY)
    if not native:
        if legacy_key is None:
            if legacy_policy is not None:
                raise _bad(f"{LEGACY_DELETION_POLICY} requires {LEGACY_KEY_ID}")
            return None
        # Cinder's volume-upload images: a LUKS volume whose key is named by the legacy property
        return Encryption(
            format="LUKS",
            key_id=_key(legacy_key, LEGACY_KEY_ID),
            deletion_policy=_policy(legacy_policy, LEGACY_DELETION_POLICY),
        )
    missing = [name for name in REQUIRED if name not in native and not (name == KEY_ID and legacy_key is not None)]
    if missing:
        raise _bad(f"missing required propert{'y' if len(missing) == 1 else 'ies'} {', '.join(missing)}")
    if key_id is not None and legacy_key is not None and key_id != legacy_key:
        raise _bad(f"{KEY_ID} and {LEGACY_KEY_ID} name different keys")
    if policy is not None and legacy_policy is not None and policy != legacy_policy:
        raise _bad(f"{DELETION_POLICY} and {LEGACY_DELETION_POLICY} differ")
    fmt = native[FORMAT]
    if fmt.upper() not in FORMATS:
        raise _bad(f"{FORMAT} must be one of {', '.join(FORMATS)}, not {fmt!r}")
    cipher = native.get(CIPHER)
    if cipher is not None and not cipher.strip():
        raise _bad(f"{CIPHER} must not be empty")
    container = native.get(DECRYPT_CONTAINER_FORMAT)
    if container is not None and container_formats and container not in container_formats:
        raise _bad(f"{DECRYPT_CONTAINER_FORMAT} must be one of {', '.join(container_formats)}, not {container!r}")
    size: int | None = None
    raw_size = native.get(DECRYPT_SIZE)
    if raw_size is not None:
        if not raw_size.isdigit():
            raise _bad(f"{DECRYPT_SIZE} must be a non-negative integer, not {raw_size!r}")
        size = int(raw_size)
    return Encryption(
        format=fmt.upper(),
        key_id=_key(key_id if key_id is not None else str(legacy_key), KEY_ID),
        deletion_policy=_policy(policy if policy is not None else legacy_policy, DELETION_POLICY),
        cipher=cipher,
        decrypt_container_format=container,
        decrypt_size=size,
    )


def _key(value: str, name: str) -> str:
    if not _UUID.match(value):
        raise _bad(f"{name} must be the UUID of a key in the key manager, not {value!r}")
    return value.lower()


def _policy(value: str | None, name: str) -> str:
    if value is None:
        return DO_NOT_DELETE  # never lose a key the owner did not ask to lose
    if value not in DELETION_POLICIES:
        raise _bad(f"{name} must be one of {', '.join(DELETION_POLICIES)}, not {value!r}")
    return value
