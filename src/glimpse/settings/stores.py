"""Storage backends: one typed options model per driver (glance_store's option names) and the named stores of
``enabled_backends``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

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

from glimpse.settings.sources import Env, Ini

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
    # encryption at rest (docs/operations.md): what the store writes is sealed with a new data key per object,
    # wrapped by the key-encryption key ``encrypt_at_rest_key`` (a Barbican secret's UUID) that Glimpse's service
    # user reads; objects sealed under earlier keys are read with ``encrypt_at_rest_old_keys``. A store with a
    # key but ``encrypt_at_rest = false`` writes plain data and still reads what it sealed before.
    encrypt_at_rest: bool = False
    encrypt_at_rest_key: str | None = None
    encrypt_at_rest_old_keys: list[str] = Field(default_factory=list)
    options: AnyStoreOptions = Field(default_factory=FilesystemStoreOptions)

    @model_validator(mode="before")
    @classmethod
    def _options_of_its_type(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("options") is None:
            return {**data, "options": {}}  # the defaults of the type's model (validated below)
        return data

    @field_validator("encrypt_at_rest_key", mode="before")
    @classmethod
    def _key_or_none(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value.strip().rpartition("/")[2] or None  # a secret's href or its UUID
        return value

    @field_validator("encrypt_at_rest_old_keys", mode="before")
    @classmethod
    def _old_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list):
            return [str(item).strip().rpartition("/")[2] for item in value if str(item).strip()]
        return value

    @model_validator(mode="after")
    def _sealing_needs_a_key(self) -> StoreSettings:
        if self.encrypt_at_rest and self.encrypt_at_rest_key is None:
            raise ValueError(f"store {self.id!r}: encrypt_at_rest needs encrypt_at_rest_key (a key manager secret)")
        if self.encrypt_at_rest and self.type in ("http",):
            raise ValueError(f"store {self.id!r}: a read-only {self.type} store cannot encrypt at rest")
        return self

    @property
    def at_rest_keys(self) -> frozenset[str]:
        """The key-encryption keys the store's sealed objects may name."""
        current = {self.encrypt_at_rest_key} if self.encrypt_at_rest_key else set()
        return frozenset(current | set(self.encrypt_at_rest_old_keys))

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


class StoreGroup(BaseModel):
    """Settings' fields naming the stores and the default one."""

    # [DEFAULT] enabled_backends = name:type, ... and a section per store; GLIMPSE_ENABLED_BACKENDS
    stores: dict[str, StoreSettings] = Field(default_factory=dict)
    default_backend: Annotated[str, Ini("glance_store", "default_backend"), Env("GLIMPSE_DEFAULT_BACKEND")] = ""
