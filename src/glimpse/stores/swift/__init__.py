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
by their last two components when the container is one of this store

The package: ``connection`` (signing in, the connection pool, errors, where objects are named), ``writes``
(single PUTs, segmented large objects, deletes), ``store`` (reads, listings, the check); the configuration
(``from_options``) is here.
"""

from __future__ import annotations

import configparser

from glimpse.logs import mask_secrets
from glimpse.settings import SwiftStoreOptions
from glimpse.stores.swift.connection import GROW_EVERY, MAX_OBJECT_SIZE, MAX_SEGMENTS, MiB, SwiftAuth, failure
from glimpse.stores.swift.store import SwiftStore

__all__ = [
    "GROW_EVERY",
    "MAX_OBJECT_SIZE",
    "MAX_SEGMENTS",
    "MiB",
    "SwiftAuth",
    "SwiftStore",
    "failure",
    "from_options",
]


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
