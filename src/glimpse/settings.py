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
"""

from __future__ import annotations

import configparser
import logging
import os
import socket
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union
from urllib.parse import unquote, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

log = logging.getLogger(__name__)

DEFAULT_DISK_FORMATS = ["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"]
DEFAULT_CONTAINER_FORMATS = ["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]
HASH_ALGORITHMS = ("sha1", "sha224", "sha256", "sha384", "sha512", "md5", "sha3_256", "sha3_512", "blake2b")
MASK = "***"
NOTIFICATION_DRIVERS = ("messagingv2", "messaging", "log", "noop")


# -- where a field comes from ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Ini:
    """The INI section and option (Glance's name where Glance has the option) a field is read from."""

    section: str
    option: str


@dataclass(frozen=True, slots=True)
class Env:
    """The environment variable a field is read from."""

    name: str


@dataclass(frozen=True, slots=True)
class IniSection:
    """A nested model read from one INI section, each of its fields under its own name."""

    name: str


@dataclass(frozen=True, slots=True)
class IniOptions:
    """A ``dict`` field holding every option of one INI section (``name = a, b`` -> ``{"name": ["a", "b"]}``)."""

    name: str


@dataclass(frozen=True, slots=True)
class EnvPrefix:
    """A nested model whose fields are also read from ``<prefix><FIELD NAME IN CAPITALS>`` variables."""

    prefix: str


def _markers(info: FieldInfo, kind: type[Any]) -> list[Any]:
    return [marker for marker in info.metadata if isinstance(marker, kind)]


def _unwrap(annotation: Any) -> list[Any]:
    """The types a field may hold, with ``X | None`` and ``Annotated`` taken apart."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [kind for arg in typing.get_args(annotation) for kind in _unwrap(arg) if kind is not type(None)]
    return [annotation]


def _shape(info: FieldInfo) -> str:
    """How a raw INI/environment string becomes the field's input: ``list``, ``dict`` or ``str``."""
    for kind in _unwrap(info.annotation):
        origin = typing.get_origin(kind) or kind
        if origin is list:
            return "list"
        if origin is dict:
            return "dict"
    return "str"


def _split_list(value: str) -> list[str]:
    """``a, b`` or Glance's ``[a, b]`` / ``['a', 'b']``."""
    value = value.strip().removeprefix("[").removesuffix("]")
    return [item.strip().strip("'\"") for item in value.split(",") if item.strip().strip("'\"")]


def _split_dict(value: str) -> dict[str, str]:
    """``name=value, name=value`` (the value may contain ':' and '=')."""
    pairs = (item.split("=", 1) for item in _split_list(value))
    return {name.strip(): rest.strip() for name, rest in pairs}


def _coerce(info: FieldInfo, raw: str) -> Any:
    shape = _shape(info)
    return _split_list(raw) if shape == "list" else _split_dict(raw) if shape == "dict" else raw


# -- secrets -----------------------------------------------------------------------------------------------
def _url_password(url: str) -> str | None:
    """The password of ``scheme://user:password@host/...`` (as written: maybe %-encoded), else None."""
    _scheme, sep, rest = url.partition("//")
    creds, at, _host = rest.rpartition("@")
    if not sep or not at or ":" not in creds:
        return None
    return creds.split(":", 1)[1]


def mask_url(url: str) -> str:
    """``scheme://user:secret@host`` -> ``scheme://user:***@host``; anything else unchanged."""
    if _url_password(url) is None:
        return url
    scheme, _, rest = url.partition("//")
    creds, _, host = rest.rpartition("@")
    return f"{scheme}//{creds.split(':', 1)[0]}:{MASK}@{host}"


class SecretUrl(SecretStr):
    """A URL with a secret password (a database or Redis URL): ``str()`` and ``repr()`` show it with the
    password masked, ``get_secret_value()`` gives it whole."""

    def _display(self) -> str:
        return mask_url(self.get_secret_value())

    def password(self) -> str | None:
        return _url_password(self.get_secret_value())


def _secret_values(value: Any) -> Iterator[str]:
    """Every configured secret inside ``value`` (a settings model, a list, a dict): the whole of a
    SecretStr, the password of a SecretUrl, each also %-decoded."""
    if isinstance(value, SecretUrl):
        password = value.password()
        found = [password, unquote(password)] if password else []
    elif isinstance(value, SecretStr):
        found = [value.get_secret_value()]
    elif isinstance(value, BaseModel):
        found = [s for name in type(value).model_fields for s in _secret_values(getattr(value, name))]
    elif isinstance(value, list | tuple):
        found = [s for item in value for s in _secret_values(item)]
    elif isinstance(value, dict):
        found = [s for item in value.values() for s in _secret_values(item)]
    else:
        found = []
    yield from (secret for secret in found if secret)


def _printable(value: Any) -> Any:
    """A JSON-ready copy of ``model_dump()``'s output with every secret masked."""
    if isinstance(value, SecretUrl):
        return str(value)
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, dict):
        return {key: _printable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "glimpse"


# -- stores ------------------------------------------------------------------------------------------------
NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
MIB_PER_SWIFT_OBJECT = 5120  # Swift's default max_file_size (5 GiB) in MiB: no segment may be larger


class StoreOptions(BaseModel):
    """A store section's driver options, under glance_store's names. The INI reader warns about and leaves
    out the names a driver does not know; a value left empty there means the option's default."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True, hide_input_in_errors=True)


class FilesystemStoreOptions(StoreOptions):
    filesystem_store_datadir: Path | None = None  # default <data_dir>/stores/<store name>


class HttpStoreOptions(StoreOptions):
    """The read-only http store has no options: it reads with web-download's filtering."""


class S3StoreOptions(StoreOptions):
    s3_store_host: NonEmpty  # host[:port] (plain HTTP) or an http(s) URL; kept as the endpoint URL
    s3_store_access_key: NonEmpty
    s3_store_secret_key: SecretStr
    s3_store_bucket: NonEmpty
    s3_store_create_bucket_on_put: bool = False
    s3_store_bucket_url_format: Literal["auto", "path", "virtual"] = "auto"
    s3_store_large_object_size: int = Field(default=100, ge=1)  # MiB: from this size on, a multipart upload
    s3_store_large_object_chunk_size: int = Field(default=10, ge=5)  # MiB per part (S3 refuses parts under 5)
    s3_store_thread_pools: int = Field(default=10, ge=1)  # parts in flight
    s3_store_region_name: str = "us-east-1"
    s3_store_cacert: str | None = None

    @field_validator("s3_store_host")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        endpoint = value.rstrip("/")
        if "://" not in endpoint:
            endpoint = f"http://{endpoint}"
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"s3_store_host must be a host[:port] or an http(s) URL, not {value!r}")
        return endpoint

    @field_validator("s3_store_bucket_url_format", mode="before")
    @classmethod
    def _style(cls, value: object) -> object:
        if isinstance(value, str):
            lowered = value.strip().lower() or "auto"
            return "virtual" if lowered == "subdomain" else lowered  # glance_store's older name
        return value

    @field_validator("s3_store_secret_key")
    @classmethod
    def _secret_set(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("s3_store_secret_key must be set")
        return SecretStr(value.get_secret_value().strip())


class SwiftStoreOptions(StoreOptions):
    # the credentials, or a swift_store_config_file reference that holds them
    swift_store_auth_address: str | None = None
    swift_store_user: str | None = None  # account:user (tempauth) or project:user (Keystone)
    swift_store_key: SecretStr | None = None
    swift_store_auth_version: Literal["1", "2", "3"] | None = None  # Glance's default: 2 (Keystone)
    swift_store_user_domain_id: str | None = None
    swift_store_user_domain_name: str | None = None
    swift_store_project_domain_id: str | None = None
    swift_store_project_domain_name: str | None = None
    swift_store_region: str | None = None
    swift_store_endpoint_type: str | None = None
    swift_store_service_type: str | None = None
    swift_store_endpoint: str | None = None
    swift_store_auth_insecure: bool = False
    swift_store_cacert: str | None = None
    swift_store_config_file: Path | None = None
    default_swift_reference: str = "ref1"
    swift_store_container: NonEmpty = "glance"
    swift_store_create_container_on_put: bool = False
    swift_store_large_object_size: int = Field(default=5120, ge=1, le=MIB_PER_SWIFT_OBJECT)  # MiB
    swift_store_large_object_chunk_size: int = Field(default=200, ge=1, le=MIB_PER_SWIFT_OBJECT)  # MiB
    swift_store_multiple_containers_seed: int = Field(default=0, ge=0, le=32)
    swift_store_multi_tenant: bool = False

    @field_validator("swift_store_container")
    @classmethod
    def _container(cls, value: str) -> str:
        if "/" in value:
            raise ValueError("swift_store_container cannot contain '/'")
        return value

    @field_validator("swift_store_multi_tenant")
    @classmethod
    def _single_tenant(cls, value: bool) -> bool:
        if value:
            raise ValueError("swift_store_multi_tenant is not supported")
        return value


class RbdStoreOptions(StoreOptions):
    rbd_store_pool: NonEmpty = "images"
    rbd_store_user: str | None = None
    rbd_store_ceph_conf: str = ""  # empty: librados' default search
    rbd_store_chunk_size: int = 8  # MiB: the RBD object size, a power of two
    rados_connect_timeout: int = 10  # seconds; 0 or less: librados' own
    rbd_thin_provisioning: bool = False
    rbd_store_namespace: str = ""

    @field_validator("rbd_store_chunk_size")
    @classmethod
    def _power_of_two(cls, value: int) -> int:
        if value < 1 or value & (value - 1):
            raise ValueError(f"rbd_store_chunk_size must be a power of two of at least 1 (MiB), not {value}")
        return value


AnyStoreOptions = FilesystemStoreOptions | S3StoreOptions | SwiftStoreOptions | RbdStoreOptions | HttpStoreOptions
# enabled_backends' driver type -> the model of its section's options
STORE_OPTIONS: dict[str, type[StoreOptions]] = {
    "file": FilesystemStoreOptions,
    "s3": S3StoreOptions,
    "swift": SwiftStoreOptions,
    "rbd": RbdStoreOptions,
    "http": HttpStoreOptions,
}


class StoreSettings(BaseModel):
    """One named backend of ``enabled_backends``; ``options`` is the model of its driver type."""

    model_config = ConfigDict(hide_input_in_errors=True)

    id: str
    type: str
    description: str = ""
    weight: int = 0
    options: AnyStoreOptions = Field(default_factory=FilesystemStoreOptions)

    @model_validator(mode="before")
    @classmethod
    def _options_of_its_type(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("options") is None:
            return {**data, "options": {}}  # the defaults of the type's model (validated below)
        return data

    @field_validator("options", mode="before")
    @classmethod
    def _typed_options(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("type")
        model = STORE_OPTIONS.get(kind) if isinstance(kind, str) else None
        if model is None:
            raise ValueError(
                f"store {info.data.get('id')!r}: driver type {kind!r} is not available ({', '.join(STORE_OPTIONS)})"
            )
        if isinstance(value, model):
            return value
        if isinstance(value, StoreOptions):
            raise ValueError(f"a {kind} store takes {model.__name__}, not {type(value).__name__}")
        return model.model_validate(value)


# -- Keystone ------------------------------------------------------------------------------------------------
class KeystoneAuthSettings(BaseModel):
    """``[keystone_authtoken]``, with keystonemiddleware's option names (``auth = keystone``)."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    # sent in ``WWW-Authenticate: Keystone uri="..."`` with a 401; auth_url when not set
    www_authenticate_uri: str = ""
    # the service user that validates tokens (keystoneauth1's password plugin)
    auth_url: str = ""
    auth_type: Literal["password", "v3password"] = "password"
    username: str = ""
    password: SecretStr | None = None
    project_name: str = ""
    user_domain_name: str | None = None
    user_domain_id: str | None = None
    project_domain_name: str | None = None
    project_domain_id: str | None = None
    # which identity endpoint of the service user's catalog validates tokens
    interface: str = "internal"
    region_name: str | None = None
    cafile: str | None = None
    insecure: bool = False
    http_connect_timeout: float = Field(default=10.0, gt=0)
    http_request_max_retries: int = Field(default=3, ge=0)
    # an X-Service-Token must carry one of these roles; keystonemiddleware defaults to not requiring it,
    # Glimpse to requiring it (a token without them is refused with 401 rather than trusted as a service)
    service_token_roles: list[str] = Field(default_factory=lambda: ["service"])
    service_token_roles_required: bool = True
    # validated tokens are cached this many seconds (never beyond their expiry); 0 turns caching off
    token_cache_time: int = Field(default=300, ge=0)
    token_cache_size: int = Field(default=10000, ge=1)  # entries of the in-process cache
    # a shared cache instead of the in-process one: redis:// (or rediss://, unix://) URLs, password secret
    memcached_servers: list[SecretUrl] = Field(default_factory=list)
    memcache_security_strategy: Literal["none", "mac", "encrypt"] = "none"
    memcache_secret_key: SecretStr | None = None

    @field_validator("memcache_security_strategy", mode="before")
    @classmethod
    def _lower_strategy(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check(self) -> KeystoneAuthSettings:
        if self.memcache_security_strategy != "none" and self.memcache_secret_key is None:
            raise ValueError("[keystone_authtoken] memcache_security_strategy needs memcache_secret_key")
        if not self.www_authenticate_uri:
            object.__setattr__(self, "www_authenticate_uri", self.auth_url)
        return self

    def missing(self) -> list[str]:
        """The options keystone auth cannot work without that are not set."""
        needed = {"auth_url": self.auth_url, "username": self.username, "project_name": self.project_name}
        missing = [name for name, value in needed.items() if not value]
        return missing if self.password is not None else [*missing, "password"]


class OsloLimitSettings(BaseModel):
    """``[oslo_limit]``, with oslo.limit's option names: how Glimpse reads Keystone's unified limits.

    The credentials default to ``[keystone_authtoken]``'s service user; reading other projects' limits needs
    a reader role on the system scope (``system_scope = all``), as oslo.limit documents.
    """

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    endpoint_id: str = ""
    # without endpoint_id, the service is found by type (and name) and the region by name
    endpoint_service_type: str = "image"
    endpoint_service_name: str = ""
    endpoint_region_name: str = ""
    auth_url: str = ""
    username: str = ""
    password: SecretStr | None = None
    user_domain_name: str | None = None
    user_domain_id: str | None = None
    system_scope: str | None = None
    project_name: str | None = None
    project_domain_name: str | None = None
    project_domain_id: str | None = None
    cafile: str | None = None
    insecure: bool = False
    # Glimpse: seconds a project's limits are reused before Keystone is asked again (0: ask every time)
    cache_time: float = Field(default=0.0, ge=0)


class ArtifactTypeOptions(BaseModel):
    """``[artifact_type:<name>]``, with Glare's option names: one artifact type's quotas and deletion."""

    model_config = ConfigDict(frozen=True)

    max_artifact_number: int = Field(default=-1, ge=-1)  # artifacts of this type a project may have; -1: any
    max_uploaded_data: int = Field(default=-1, ge=-1)  # bytes of this type's blobs a project may have; -1: any
    delayed_delete: bool | None = None  # None: [DEFAULT] delayed_delete


ARTIFACT_TYPE_SECTION = "artifact_type:"


# -- everything ----------------------------------------------------------------------------------------------
class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    # where the embedded defaults keep everything
    data_dir: Annotated[Path, Ini("glimpse", "data_dir"), Env("GLIMPSE_DATA_DIR")] = Field(
        default_factory=_default_data_dir
    )
    host: Annotated[str, Ini("DEFAULT", "bind_host"), Env("GLIMPSE_HOST")] = "127.0.0.1"
    port: Annotated[int, Ini("DEFAULT", "bind_port"), Env("GLIMPSE_PORT")] = 9292
    workers: Annotated[int, Ini("DEFAULT", "workers"), Env("GLIMPSE_WORKERS")] = 1
    log_level: Annotated[str, Ini("glimpse", "log_level"), Env("GLIMPSE_LOG_LEVEL")] = "INFO"
    # also oslo.log's [DEFAULT] use_json (this one wins when both are set)
    log_format: Annotated[Literal["text", "json"], Ini("glimpse", "log_format"), Env("GLIMPSE_LOG_FORMAT")] = "text"

    # import: methods and web-download filtering ([import_filtering_opts] in Glance)
    enabled_import_methods: Annotated[list[str], Ini("DEFAULT", "enabled_import_methods")] = Field(
        default_factory=lambda: ["glance-direct", "web-download", "copy-image", "glance-download"]
    )
    # glance-download: region name -> that region's image endpoint, and the token to read it with
    glance_download_endpoints: Annotated[dict[str, str], Ini("glimpse", "glance_download_endpoints")] = Field(
        default_factory=dict
    )
    glance_download_token: Annotated[SecretStr | None, Ini("glimpse", "glance_download_token")] = None
    import_allowed_schemes: Annotated[list[str], Ini("import_filtering_opts", "allowed_schemes")] = Field(
        default_factory=lambda: ["http", "https"]
    )
    import_disallowed_schemes: Annotated[list[str], Ini("import_filtering_opts", "disallowed_schemes")] = Field(
        default_factory=list
    )
    import_allowed_hosts: Annotated[list[str], Ini("import_filtering_opts", "allowed_hosts")] = Field(
        default_factory=list
    )
    import_disallowed_hosts: Annotated[list[str], Ini("import_filtering_opts", "disallowed_hosts")] = Field(
        default_factory=list
    )
    import_allowed_ports: Annotated[list[int], Ini("import_filtering_opts", "allowed_ports")] = Field(
        default_factory=lambda: [80, 443]
    )
    import_disallowed_ports: Annotated[list[int], Ini("import_filtering_opts", "disallowed_ports")] = Field(
        default_factory=list
    )
    # tasks: run by an in-process worker unless `glimpse worker` processes do it
    worker_in_process: Annotated[bool, Ini("glimpse", "worker_in_process"), Env("GLIMPSE_WORKER_IN_PROCESS")] = True
    # default <data_dir>/staging
    staging_dir: Annotated[Path | None, Ini("os_glance_staging_store", "filesystem_store_datadir")] = None
    task_heartbeat_interval: Annotated[float, Ini("glimpse", "task_heartbeat_interval")] = Field(default=2.0, gt=0)
    task_stale_after: Annotated[float, Ini("glimpse", "task_stale_after")] = Field(default=30.0, gt=0)
    task_max_attempts: Annotated[int, Ini("glimpse", "task_max_attempts")] = Field(default=2, ge=1)
    # the image cache (Glance's names): off unless image_cache_dir is set; a hard byte budget per node
    image_cache_dir: Annotated[Path | None, Ini("DEFAULT", "image_cache_dir"), Env("GLIMPSE_IMAGE_CACHE_DIR")] = None
    image_cache_max_size: Annotated[
        int, Ini("DEFAULT", "image_cache_max_size"), Env("GLIMPSE_IMAGE_CACHE_MAX_SIZE")
    ] = Field(default=10 * 1024**3, ge=0)
    # partial files older than this many seconds are stale (removed by POST /v2/cache/clean and the sweep)
    image_cache_stall_time: Annotated[int, Ini("DEFAULT", "image_cache_stall_time")] = Field(default=86400, ge=0)
    # the cache refuses to fill when the disk would keep less than this many bytes free
    image_cache_min_free: Annotated[
        int, Ini("glimpse", "image_cache_min_free"), Env("GLIMPSE_IMAGE_CACHE_MIN_FREE")
    ] = Field(default=256 * 1024**2, ge=0)
    # this node's identity in the cache table (GET /v2/cache/nodes/{id}); default: host name and cache directory
    worker_self_reference_url: Annotated[
        str | None, Ini("DEFAULT", "worker_self_reference_url"), Env("GLIMPSE_WORKER_SELF_REFERENCE_URL")
    ] = None

    # default sqlite:///<data_dir>/glimpse.db; a password in it is a secret
    database_url: Annotated[SecretUrl, Ini("database", "connection"), Env("GLIMPSE_DATABASE_URL")] = SecretUrl("")
    # seconds SQLite waits for a lock held elsewhere
    database_busy_timeout: Annotated[float, Ini("database", "busy_timeout"), Env("GLIMPSE_DATABASE_BUSY_TIMEOUT")] = (
        Field(default=30.0, ge=0)
    )
    # also [paste_deploy] flavor (keystone: keystone, anything else: noauth)
    auth: Annotated[Literal["tokens", "noauth", "keystone"], Ini("glimpse", "auth"), Env("GLIMPSE_AUTH")] = "tokens"
    token_file: Annotated[Path | None, Ini("glimpse", "token_file"), Env("GLIMPSE_TOKEN_FILE")] = None
    keystone_authtoken: Annotated[
        KeystoneAuthSettings, IniSection("keystone_authtoken"), EnvPrefix("GLIMPSE_KEYSTONE_")
    ] = Field(default_factory=KeystoneAuthSettings)

    # [DEFAULT] enabled_backends = name:type, ... and a section per store; GLIMPSE_ENABLED_BACKENDS
    stores: dict[str, StoreSettings] = Field(default_factory=dict)
    default_backend: Annotated[str, Ini("glance_store", "default_backend"), Env("GLIMPSE_DEFAULT_BACKEND")] = ""

    # quotas: Keystone unified limits when true, else Glimpse's own (`glimpse quota set`; none: unlimited)
    use_keystone_limits: Annotated[bool, Ini("DEFAULT", "use_keystone_limits")] = False
    oslo_limit: Annotated[OsloLimitSettings, IniSection("oslo_limit")] = Field(default_factory=OsloLimitSettings)

    image_size_cap: Annotated[int, Ini("DEFAULT", "image_size_cap"), Env("GLIMPSE_IMAGE_SIZE_CAP")] = 1099511627776
    # a header claiming a larger virtual size than this is refused as absurd (1 PiB)
    max_virtual_size: int = 2**50
    # Glance's [image_format] require_image_format_match (default true there too): data must match its
    # disk_format. Glimpse is stricter when on: a raw label refuses a qcow2 (or other rich format) too.
    require_image_format_match: Annotated[bool, Ini("image_format", "require_image_format_match")] = True
    max_request_body_size: Annotated[int, Ini("DEFAULT", "max_request_body_size")] = 114688
    hashing_algorithm: Annotated[str, Ini("DEFAULT", "hashing_algorithm"), Env("GLIMPSE_HASHING_ALGORITHM")] = "sha512"
    disk_formats: Annotated[list[str], Ini("image_format", "disk_formats")] = Field(
        default_factory=lambda: list(DEFAULT_DISK_FORMATS)
    )
    container_formats: Annotated[list[str], Ini("image_format", "container_formats")] = Field(
        default_factory=lambda: list(DEFAULT_CONTAINER_FORMATS)
    )
    limit_param_default: Annotated[int, Ini("DEFAULT", "limit_param_default")] = 25
    api_limit_max: Annotated[int, Ini("DEFAULT", "api_limit_max"), Env("GLIMPSE_API_LIMIT_MAX")] = 1000
    image_property_quota: Annotated[int, Ini("DEFAULT", "image_property_quota")] = 128
    image_tag_quota: Annotated[int, Ini("DEFAULT", "image_tag_quota")] = 128
    image_member_quota: Annotated[int, Ini("DEFAULT", "image_member_quota")] = 128
    image_location_quota: Annotated[int, Ini("DEFAULT", "image_location_quota")] = 10
    # metadef objects + properties + tags in the namespaces one project owns (0: no cap); OSSN-0088
    metadef_records_per_project: Annotated[int, Ini("glimpse", "metadef_records_per_project")] = Field(default=0, ge=0)
    show_image_direct_url: Annotated[bool, Ini("DEFAULT", "show_image_direct_url")] = False
    show_multiple_locations: Annotated[bool, Ini("DEFAULT", "show_multiple_locations")] = False
    public_endpoint: Annotated[str | None, Ini("DEFAULT", "public_endpoint"), Env("GLIMPSE_PUBLIC_ENDPOINT")] = None
    auto_migrate: Annotated[bool, Ini("glimpse", "auto_migrate")] = True
    # `glimpse serve` puts uploads interrupted by a crash back to queued
    recover_on_start: Annotated[bool, Ini("glimpse", "recover_on_start")] = True
    # policy: an oslo.policy file over the defaults in code; the opt-in manager persona (docs/policy.md)
    policy_file: Annotated[Path | None, Ini("oslo_policy", "policy_file"), Env("GLIMPSE_POLICY_FILE")] = None
    enable_manager_role: Annotated[bool, Ini("glimpse", "enable_manager_role"), Env("GLIMPSE_ENABLE_MANAGER_ROLE")] = (
        False
    )
    # the artifacts API (Glare's; `glimpse artifacts serve`, or mounted under artifacts_mount in `glimpse serve`)
    enabled_artifact_types: Annotated[list[str], Ini("DEFAULT", "enabled_artifact_types")] = Field(
        default_factory=lambda: ["heat_templates", "heat_environments", "murano_packages", "tosca_templates", "images"]
    )
    artifacts_host: Annotated[str, Ini("artifacts", "bind_host")] = "127.0.0.1"
    artifacts_port: Annotated[int, Ini("artifacts", "bind_port")] = 9494
    # e.g. /artifact: the artifacts API inside the images process; empty: not mounted
    artifacts_mount: Annotated[str, Ini("artifacts", "mount")] = ""
    # the application catalog (docs/catalog.md): a catalog directory this server publishes under
    # /catalog/v1/repository, and the remote catalogs it subscribes to (name=https URL; name=trusted root.json)
    catalog_serve_dir: Annotated[Path | None, Ini("catalog", "serve_dir"), Env("GLIMPSE_CATALOG_SERVE_DIR")] = None
    catalog_remotes: Annotated[dict[str, str], Ini("catalog", "remotes"), Env("GLIMPSE_CATALOG_REMOTES")] = Field(
        default_factory=dict
    )
    catalog_trusted_roots: Annotated[
        dict[str, str], Ini("catalog", "trusted_roots"), Env("GLIMPSE_CATALOG_TRUSTED_ROOTS")
    ] = Field(default_factory=dict)
    catalog_refresh_interval: Annotated[float, Ini("catalog", "refresh_interval")] = Field(default=3600.0, gt=0)
    # tests only: a local CA bundle instead of the system's, and hosts (e.g. 127.0.0.1) the SSRF guard lets through
    catalog_test_ca_file: Annotated[
        Path | None, Ini("catalog", "test_ca_file"), Env("GLIMPSE_CATALOG_TEST_CA_FILE")
    ] = None
    catalog_allowed_hosts: Annotated[
        list[str], Ini("catalog", "allowed_hosts"), Env("GLIMPSE_CATALOG_ALLOWED_HOSTS")
    ] = Field(default_factory=list)
    default_api_limit: Annotated[int, Ini("DEFAULT", "default_api_limit")] = Field(default=25, ge=0)
    max_api_limit: Annotated[int, Ini("DEFAULT", "max_api_limit")] = Field(default=1000, ge=1)
    # a cap over every blob field's own; -1: the fields' caps only
    max_blob_size: Annotated[int, Ini("DEFAULT", "max_blob_size")] = Field(default=-1, ge=-1)
    # Glare's quotas of every project (-1: none): its artifacts, and the bytes uploaded to their blobs; per
    # type in [artifact_type:<name>] sections (artifact_types), per project through PUT /quotas
    max_artifact_number: Annotated[int, Ini("DEFAULT", "max_artifact_number")] = Field(default=-1, ge=-1)
    max_uploaded_data: Annotated[int, Ini("DEFAULT", "max_uploaded_data")] = Field(default=-1, ge=-1)
    # a deleted artifact stays listed as 'deleted' until the scrubber removes it and its data
    delayed_delete: Annotated[bool, Ini("DEFAULT", "delayed_delete")] = False
    artifact_types: dict[str, ArtifactTypeOptions] = Field(default_factory=dict)
    # property protections (Glance's format; no file: no protections)
    property_protection_file: Annotated[Path | None, Ini("DEFAULT", "property_protection_file")] = None
    property_protection_rule_format: Annotated[
        Literal["roles", "policies"], Ini("DEFAULT", "property_protection_rule_format")
    ] = "roles"
    # the key manager (image signature certificates): Barbican through castellan, or none at all
    key_manager_backend: Annotated[
        Literal["barbican", "none"], Ini("key_manager", "backend"), Env("GLIMPSE_KEY_MANAGER_BACKEND")
    ] = "barbican"
    # Barbican's URL; none: the key-manager endpoint of the caller's Keystone catalog
    barbican_endpoint: Annotated[str | None, Ini("barbican", "barbican_endpoint"), Env("GLIMPSE_BARBICAN_ENDPOINT")] = (
        None
    )
    # the Keystone castellan rescopes the caller's token at; none: [keystone_authtoken] auth_url
    barbican_auth_endpoint: Annotated[str | None, Ini("barbican", "auth_endpoint")] = None
    barbican_verify_ssl: Annotated[bool, Ini("barbican", "verify_ssl")] = True
    # projects whose image data must be signed (all four img_signature* properties, verified): project ids,
    # or * for every project; uploads and imports of unsigned data are refused with 400
    require_signed_images: Annotated[list[str], Ini("glimpse", "require_signed_images")] = Field(default_factory=list)
    # notifications (Glance's options; docs/notifications.md): no driver or `noop` sends none
    notification_driver: Annotated[
        list[str], Ini("oslo_messaging_notifications", "driver"), Env("GLIMPSE_NOTIFICATION_DRIVER")
    ] = Field(default_factory=list)
    notification_topics: Annotated[
        list[str], Ini("oslo_messaging_notifications", "topics"), Env("GLIMPSE_NOTIFICATION_TOPICS")
    ] = Field(default_factory=lambda: ["notifications"])
    notification_transport_url: Annotated[
        SecretUrl | None,
        Ini("oslo_messaging_notifications", "transport_url"),
        Env("GLIMPSE_NOTIFICATION_TRANSPORT_URL"),
    ] = None
    transport_url: Annotated[SecretUrl | None, Ini("DEFAULT", "transport_url")] = None
    # 0: one try per drain, the outbox retries (-1, oslo's forever, holds the task worker while the bus is down)
    notification_retry: Annotated[int, Ini("oslo_messaging_notifications", "retry")] = Field(default=0, ge=-1)
    default_publisher_id: Annotated[str, Ini("DEFAULT", "default_publisher_id")] = Field(
        default_factory=lambda: f"image.{socket.gethostname()}"
    )
    disabled_notifications: Annotated[list[str], Ini("DEFAULT", "disabled_notifications")] = Field(default_factory=list)
    # topic -> roles of its audience; "*" sends every property (Glance's behaviour); unlisted topics: reader
    notification_audience: Annotated[dict[str, list[str]], IniOptions("notification_audience")] = Field(
        default_factory=dict
    )
    # seconds between the worker's retries of undelivered outbox messages (a failed send waits for it)
    outbox_retry_interval: Annotated[float, Ini("glimpse", "outbox_retry_interval")] = Field(default=5.0, gt=0)
    upload_block_size: int = 4 * 1024 * 1024
    download_chunk_size: int = 1024 * 1024

    @field_validator("notification_driver")
    @classmethod
    def _known_driver(cls, value: list[str]) -> list[str]:
        unknown = [driver for driver in value if driver not in NOTIFICATION_DRIVERS]
        if unknown:
            raise ValueError(
                f"unsupported notification driver {', '.join(unknown)}; one of {', '.join(NOTIFICATION_DRIVERS)}"
            )
        return value

    @field_validator("hashing_algorithm")
    @classmethod
    def _known_hash(cls, value: str) -> str:
        if value not in HASH_ALGORITHMS:
            raise ValueError(f"unsupported hashing_algorithm {value!r}; one of {', '.join(HASH_ALGORITHMS)}")
        return value

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        data_dir = self.data_dir.expanduser()
        object.__setattr__(self, "data_dir", data_dir)
        if not self.database_url.get_secret_value():
            object.__setattr__(self, "database_url", SecretUrl(f"sqlite:///{data_dir / 'glimpse.db'}"))
        if self.staging_dir is None:
            object.__setattr__(self, "staging_dir", data_dir / "staging")
        if self.token_file is None:
            object.__setattr__(self, "token_file", data_dir / "tokens.json")
        stores = dict(self.stores) or {"local": StoreSettings(id="local", type="file")}
        for name, store in stores.items():
            if isinstance(store.options, FilesystemStoreOptions) and store.options.filesystem_store_datadir is None:
                options = store.options.model_copy(update={"filesystem_store_datadir": data_dir / "stores" / name})
                stores[name] = store.model_copy(update={"options": options})
        object.__setattr__(self, "stores", stores)
        if not self.default_backend:
            object.__setattr__(self, "default_backend", next(iter(stores)))
        if self.default_backend not in stores:
            raise ValueError(f"default_backend {self.default_backend!r} is not in enabled_backends")
        for name, url in self.catalog_remotes.items():
            if not url.lower().startswith("https://"):
                raise ValueError(f"catalog remote {name!r}: only https:// catalogs are accepted")
            if name not in self.catalog_trusted_roots:
                raise ValueError(f"catalog remote {name!r} needs a trusted root.json in [catalog] trusted_roots")
        if self.auth == "keystone" and (missing := self.keystone_authtoken.missing()):
            raise ValueError(f"auth = keystone needs [keystone_authtoken] {', '.join(missing)}")
        return self

    def cache_node(self) -> str:
        """This node's name in the image cache table: ``worker_self_reference_url``, else host and directory."""
        if self.worker_self_reference_url:
            return self.worker_self_reference_url
        return f"{socket.gethostname()}:{self.image_cache_dir}"

    def masked(self) -> dict[str, Any]:
        """A printable view (JSON-ready): secrets are ``***``, the passwords inside URLs too."""
        printable: dict[str, Any] = _printable(self.model_dump())
        return printable

    def secrets(self) -> list[str]:
        """Every secret value configured here (longest first), for the log filter to mask."""
        return sorted(set(_secret_values(self)), key=len, reverse=True)


# -- reading the INI file and the environment ------------------------------------------------------------------
# (section, option) -> field, and the nested sections, from the fields' markers
_INI_FIELDS: dict[tuple[str, str], str] = {
    (marker.section, marker.option): name
    for name, info in Settings.model_fields.items()
    for marker in _markers(info, Ini)
}
_INI_OPTIONS: dict[str, str] = {
    marker.name: name for name, info in Settings.model_fields.items() for marker in _markers(info, IniOptions)
}
_INI_SECTIONS: dict[str, tuple[str, type[BaseModel]]] = {
    marker.name: (name, _unwrap(info.annotation)[0])
    for name, info in Settings.model_fields.items()
    for marker in _markers(info, IniSection)
}
# Options Glance has that we accept silently because they describe what we do anyway.
_KNOWN_ELSEWHERE = {
    ("DEFAULT", "enabled_backends"),
    ("DEFAULT", "debug"),
    ("paste_deploy", "flavor"),
    ("DEFAULT", "use_json"),
    ("glance_store", "filesystem_store_datadir"),
    ("DEFAULT", "image_cache_driver"),  # the cache table in the main database is the only driver
    ("DEFAULT", "image_cache_sqlite_db"),
}
_FLAVOR_AUTH = {"keystone": "keystone", "keystone+cachemanagement": "keystone", "": "noauth"}
_STORE_COMMON = ("store_description", "weight")


def _section_options(
    section: str, model: type[BaseModel], options: dict[str, str], path: Path, why: str = ""
) -> dict[str, Any]:
    """The options of a section that ``model`` declares (unknown ones are logged); an empty value: the default."""
    known = {}
    for option, raw in options.items():
        if option not in model.model_fields:
            log.warning("ignoring unknown option [%s] %s in %s%s", section, option, path, why)
        elif raw.strip():
            known[option] = _coerce(model.model_fields[option], raw)
    return known


def _store_options(section: str, kind: str, options: dict[str, str], path: Path) -> dict[str, str]:
    """The options of a store section that its driver's model declares (unknown ones are logged); an empty
    value stands for the default."""
    model = STORE_OPTIONS.get(kind)
    if model is None:  # the driver type is refused when the settings are validated
        return options
    return _section_options(section, model, options, path, f" (not a {kind} store option)")


def _read_ini(path: Path) -> dict[str, Any]:
    parser = configparser.ConfigParser(interpolation=None, default_section="__none__")
    with path.open(encoding="utf-8") as handle:
        parser.read_file(handle)
    values: dict[str, Any] = {}
    backends: dict[str, str] = {}
    if parser.has_option("DEFAULT", "enabled_backends"):
        for item in _split_list(parser.get("DEFAULT", "enabled_backends")):
            name, _, kind = item.partition(":")
            backends[name.strip()] = kind.strip() or "file"
    for section in parser.sections():
        if section.startswith(ARTIFACT_TYPE_SECTION):
            values.setdefault("artifact_types", {})[section[len(ARTIFACT_TYPE_SECTION) :]] = _section_options(
                section, ArtifactTypeOptions, dict(parser.items(section)), path
            )
            continue
        for option, raw in parser.items(section):
            key = (section, option)
            if key in _INI_FIELDS:
                name = _INI_FIELDS[key]
                values[name] = _coerce(Settings.model_fields[name], raw)
            elif section in _INI_OPTIONS:
                values.setdefault(_INI_OPTIONS[section], {})[option] = _split_list(raw)
            elif section in backends:  # the store driver's own options, read below
                continue
            elif section in _INI_SECTIONS and option in _INI_SECTIONS[section][1].model_fields:
                name, model = _INI_SECTIONS[section]
                values.setdefault(name, {})[option] = _coerce(model.model_fields[option], raw)
            elif key == ("paste_deploy", "flavor"):
                values["auth"] = _FLAVOR_AUTH.get(raw.strip(), "noauth")
            elif key == ("DEFAULT", "use_json"):  # oslo.log's switch; [glimpse] log_format wins when both are set
                values.setdefault("log_format", "json" if parser.getboolean(section, option) else "text")
            elif key not in _KNOWN_ELSEWHERE:
                log.warning("ignoring unknown option [%s] %s in %s", section, option, path)
    if not backends and parser.has_option("glance_store", "filesystem_store_datadir"):
        # single-store glance-api.conf: one filesystem store
        backends = {"file": "file"}
        values["default_backend"] = "file"
        parser.add_section("file")
        parser.set("file", "filesystem_store_datadir", parser.get("glance_store", "filesystem_store_datadir"))
    stores: dict[str, Any] = {}
    for name, kind in backends.items():
        options = dict(parser.items(name)) if parser.has_section(name) else {}
        common = {option: options.pop(option, "") for option in _STORE_COMMON}
        stores[name] = {
            "id": name,
            "type": kind,
            "description": common["store_description"],
            "weight": int(common["weight"] or "0"),
            "options": _store_options(name, kind, options, path),
        }
    if stores:
        values["stores"] = stores
    # relative paths are looked up beside the INI file, as oslo.config finds them; like Glance, a
    # policy.yaml beside it is used when [oslo_policy] policy_file is not set
    for name in ("policy_file", "property_protection_file"):
        if name in values:  # an empty value switches the file off
            values[name] = path.parent / Path(values[name]).expanduser() if values[name].strip() else None
    if "policy_file" not in values and (path.parent / "policy.yaml").is_file():
        values["policy_file"] = path.parent / "policy.yaml"
    return values


def _read_env(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, info in Settings.model_fields.items():
        for marker in _markers(info, Env):
            raw = env.get(marker.name)
            if raw is not None and raw != "":
                values[name] = _coerce(info, raw)
        for prefix in _markers(info, EnvPrefix):  # GLIMPSE_KEYSTONE_AUTH_URL, GLIMPSE_KEYSTONE_PASSWORD, ...
            model: type[BaseModel] = _unwrap(info.annotation)[0]
            nested = {}
            for option, option_info in model.model_fields.items():
                raw = env.get(f"{prefix.prefix}{option.upper()}")
                if raw is not None and raw != "":
                    nested[option] = _coerce(option_info, raw)
            if nested:
                values[name] = nested
    raw_backends = env.get("GLIMPSE_ENABLED_BACKENDS")
    if raw_backends:
        stores: dict[str, Any] = {}
        for item in _split_list(raw_backends):
            name, _, kind = item.partition(":")
            stores[name] = {"id": name, "type": kind or "file"}
        values["stores"] = stores
    return values


def load_settings(config_file: Path | None = None, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build the settings from defaults, the INI file, the environment and explicit overrides."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    if config_file is None and env.get("GLIMPSE_CONFIG"):
        config_file = Path(env["GLIMPSE_CONFIG"])
    if config_file is not None:
        values.update(_read_ini(config_file))
    from_env = _read_env(env)
    for name in _INI_SECTIONS.values():  # a nested section: option by option over the file's
        if name[0] in from_env:
            from_env[name[0]] = {**values.get(name[0], {}), **from_env[name[0]]}
    values.update(from_env)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings.model_validate(values)
