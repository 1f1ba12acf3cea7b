"""The only place options are declared: one typed object, loaded once, passed explicitly.

Sources, later ones winning: built-in defaults, an INI file that uses Glance's section and option names
(so an operator's ``glance-api.conf`` carries over), then ``GLIMPSE_*`` environment variables.

Where a field is read from is written on the field itself: ``Annotated[int, Ini("DEFAULT", "image_size_cap"),
Env("GLIMPSE_IMAGE_SIZE_CAP")]``; a nested section (``[keystone_authtoken]``, ``[oslo_limit]``) is marked
with ``IniSection`` and read option by option under its fields' own names, and a store's section under the
field names of its driver's options model (``S3StoreOptions``, ...), which are glance_store's. Options that
nothing declares are logged and ignored. Secrets are ``SecretStr`` (passwords, keys, tokens) or
``SecretUrl`` (a URL whose password is secret); ``Settings.secrets()`` finds every configured one for the
log filter, and ``Settings.masked()`` prints them masked.

The package has one module per concern, each holding its group of ``Settings``' fields and their nested models:
``server``, ``imports`` (and the task worker), ``cache``, ``database``, ``auth`` (Keystone), ``stores`` (a typed
options model per driver), ``quotas`` (``[oslo_limit]``), ``images`` (and the data path's block sizes), ``policy``
(and property protections), ``artifacts``, ``catalog``, ``trust`` (key manager, required signatures), ``events``
(notifications, outbox); ``model`` joins the groups into ``Settings``, ``loading`` reads the file and the
environment, ``sources`` holds the field markers and ``masking`` the secret types. Import from here.
"""

from __future__ import annotations

from glimpse.settings.artifacts import ARTIFACT_TYPE_SECTION, ArtifactTypeOptions
from glimpse.settings.auth import KeystoneAuthSettings
from glimpse.settings.events import NOTIFICATION_DRIVERS
from glimpse.settings.images import DEFAULT_CONTAINER_FORMATS, DEFAULT_DISK_FORMATS, HASH_ALGORITHMS
from glimpse.settings.loading import load_settings
from glimpse.settings.masking import MASK, SecretUrl, mask_url
from glimpse.settings.model import Settings
from glimpse.settings.quotas import OsloLimitSettings
from glimpse.settings.sources import Env, EnvPrefix, Ini, IniOptions, IniSection
from glimpse.settings.stores import (
    MIB_PER_SWIFT_OBJECT,
    STORE_OPTIONS,
    AnyStoreOptions,
    FilesystemStoreOptions,
    HttpStoreOptions,
    NonEmpty,
    RbdStoreOptions,
    S3StoreOptions,
    StoreOptions,
    StoreSettings,
    SwiftStoreOptions,
)

__all__ = [
    "ARTIFACT_TYPE_SECTION",
    "DEFAULT_CONTAINER_FORMATS",
    "DEFAULT_DISK_FORMATS",
    "HASH_ALGORITHMS",
    "MASK",
    "MIB_PER_SWIFT_OBJECT",
    "NOTIFICATION_DRIVERS",
    "STORE_OPTIONS",
    "AnyStoreOptions",
    "ArtifactTypeOptions",
    "Env",
    "EnvPrefix",
    "FilesystemStoreOptions",
    "HttpStoreOptions",
    "Ini",
    "IniOptions",
    "IniSection",
    "KeystoneAuthSettings",
    "NonEmpty",
    "OsloLimitSettings",
    "RbdStoreOptions",
    "S3StoreOptions",
    "SecretUrl",
    "Settings",
    "StoreOptions",
    "StoreSettings",
    "SwiftStoreOptions",
    "load_settings",
    "mask_url",
]
