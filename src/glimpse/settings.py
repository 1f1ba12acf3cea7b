"""The only place options are declared: one typed object, loaded once, passed explicitly.

Sources, later ones winning: built-in defaults, an INI file that uses Glance's section and option names
(so an operator's ``glance-api.conf`` carries over), then ``GLIMPSE_*`` environment variables.
"""

from __future__ import annotations

import configparser
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

log = logging.getLogger(__name__)

DEFAULT_DISK_FORMATS = ["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"]
DEFAULT_CONTAINER_FORMATS = ["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]
HASH_ALGORITHMS = ("sha1", "sha224", "sha256", "sha384", "sha512", "md5", "sha3_256", "sha3_512", "blake2b")


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "glimpse"


class StoreSettings(BaseModel):
    """One named backend of ``enabled_backends``."""

    id: str
    type: str
    description: str = ""
    weight: int = 0
    options: dict[str, str] = Field(default_factory=dict)


class KeystoneAuthSettings(BaseModel):
    """``[keystone_authtoken]``, with keystonemiddleware's option names (``auth = keystone``)."""

    model_config = {"frozen": True}

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
    # a shared cache instead of the in-process one: redis:// (or rediss://, unix://) URLs
    memcached_servers: list[str] = Field(default_factory=list)
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

    model_config = {"frozen": True}

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


class Settings(BaseModel):
    model_config = {"frozen": True}

    # where the embedded defaults keep everything
    data_dir: Path = Field(default_factory=_default_data_dir)
    host: str = "127.0.0.1"
    port: int = 9292
    workers: int = 1
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

    # import: methods and web-download filtering ([import_filtering_opts] in Glance)
    enabled_import_methods: list[str] = Field(
        default_factory=lambda: ["glance-direct", "web-download", "copy-image", "glance-download"]
    )
    # glance-download: region name -> that region's image endpoint, and the token to read it with
    glance_download_endpoints: dict[str, str] = Field(default_factory=dict)
    glance_download_token: SecretStr | None = None
    import_allowed_schemes: list[str] = Field(default_factory=lambda: ["http", "https"])
    import_disallowed_schemes: list[str] = Field(default_factory=list)
    import_allowed_hosts: list[str] = Field(default_factory=list)
    import_disallowed_hosts: list[str] = Field(default_factory=list)
    import_allowed_ports: list[int] = Field(default_factory=lambda: [80, 443])
    import_disallowed_ports: list[int] = Field(default_factory=list)
    # tasks: run by an in-process worker unless `glimpse worker` processes do it
    worker_in_process: bool = True
    staging_dir: Path | None = None  # default <data_dir>/staging
    task_heartbeat_interval: float = Field(default=2.0, gt=0)
    task_stale_after: float = Field(default=30.0, gt=0)
    task_max_attempts: int = Field(default=2, ge=1)

    database_url: str = ""
    database_busy_timeout: float = Field(default=30.0, ge=0)  # seconds SQLite waits for a lock held elsewhere
    auth: Literal["tokens", "noauth", "keystone"] = "tokens"
    token_file: Path | None = None
    keystone_authtoken: KeystoneAuthSettings = Field(default_factory=KeystoneAuthSettings)

    stores: dict[str, StoreSettings] = Field(default_factory=dict)
    default_backend: str = ""

    # quotas: Keystone unified limits when true, else Glimpse's own (`glimpse quota set`; none: unlimited)
    use_keystone_limits: bool = False
    oslo_limit: OsloLimitSettings = Field(default_factory=OsloLimitSettings)

    image_size_cap: int = 1099511627776
    # a header claiming a larger virtual size than this is refused as absurd (1 PiB)
    max_virtual_size: int = 2**50
    # Glance's [image_format] require_image_format_match (default true there too): data must match its
    # disk_format. Glimpse is stricter when on: a raw label refuses a qcow2 (or other rich format) too.
    require_image_format_match: bool = True
    max_request_body_size: int = 114688
    hashing_algorithm: str = "sha512"
    disk_formats: list[str] = Field(default_factory=lambda: list(DEFAULT_DISK_FORMATS))
    container_formats: list[str] = Field(default_factory=lambda: list(DEFAULT_CONTAINER_FORMATS))
    limit_param_default: int = 25
    api_limit_max: int = 1000
    image_property_quota: int = 128
    image_tag_quota: int = 128
    image_member_quota: int = 128
    image_location_quota: int = 10
    # metadef objects + properties + tags in the namespaces one project owns (0: no cap); OSSN-0088
    metadef_records_per_project: int = Field(default=0, ge=0)
    show_image_direct_url: bool = False
    show_multiple_locations: bool = False
    public_endpoint: str | None = None
    auto_migrate: bool = True
    recover_on_start: bool = True  # `glimpse serve` puts uploads interrupted by a crash back to queued
    # policy: an oslo.policy file over the defaults in code; the opt-in manager persona (docs/policy.md)
    policy_file: Path | None = None
    enable_manager_role: bool = False
    # the artifacts API (Glare's; `glimpse artifacts serve`, or mounted under artifacts_mount in `glimpse serve`)
    enabled_artifact_types: list[str] = Field(
        default_factory=lambda: ["heat_templates", "heat_environments", "murano_packages", "tosca_templates", "images"]
    )
    artifacts_host: str = "127.0.0.1"
    artifacts_port: int = 9494
    artifacts_mount: str = ""  # e.g. /artifact: the artifacts API inside the images process; empty: not mounted
    default_api_limit: int = Field(default=25, ge=0)
    max_api_limit: int = Field(default=1000, ge=1)
    max_blob_size: int = Field(default=-1, ge=-1)  # a cap over every blob field's own; -1: the fields' caps only
    # property protections (Glance's format; no file: no protections)
    property_protection_file: Path | None = None
    property_protection_rule_format: Literal["roles", "policies"] = "roles"
    upload_block_size: int = 4 * 1024 * 1024
    download_chunk_size: int = 1024 * 1024

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
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{data_dir / 'glimpse.db'}")
        if self.staging_dir is None:
            object.__setattr__(self, "staging_dir", data_dir / "staging")
        if self.token_file is None:
            object.__setattr__(self, "token_file", data_dir / "tokens.json")
        stores = dict(self.stores) or {"local": StoreSettings(id="local", type="file")}
        for name, store in stores.items():
            if store.type == "file" and "filesystem_store_datadir" not in store.options:
                options = {**store.options, "filesystem_store_datadir": str(data_dir / "stores" / name)}
                stores[name] = store.model_copy(update={"options": options})
        object.__setattr__(self, "stores", stores)
        if not self.default_backend:
            object.__setattr__(self, "default_backend", next(iter(stores)))
        if self.default_backend not in stores:
            raise ValueError(f"default_backend {self.default_backend!r} is not in enabled_backends")
        if self.auth == "keystone" and (missing := self.keystone_authtoken.missing()):
            raise ValueError(f"auth = keystone needs [keystone_authtoken] {', '.join(missing)}")
        return self

    def masked(self) -> dict[str, Any]:
        """A printable view: secrets and passwords in URLs are masked."""
        data = self.model_dump(mode="json")
        url = data.get("database_url", "")
        if "@" in url and ":" in url.split("@", 1)[0].split("//", 1)[-1]:
            scheme, rest = url.split("//", 1)
            creds, host = rest.split("@", 1)
            data["database_url"] = f"{scheme}//{creds.split(':', 1)[0]}:***@{host}"
        for key, value in list(data.items()):
            if isinstance(self.__dict__.get(key), SecretStr) and value is not None:
                data[key] = "***"
        if data["oslo_limit"]["password"] is not None:
            data["oslo_limit"]["password"] = "***"
        keystone = data["keystone_authtoken"]
        for key in ("password", "memcache_secret_key"):
            if keystone[key] is not None:
                keystone[key] = "***"
        keystone["memcached_servers"] = [_mask_url(url) for url in keystone["memcached_servers"]]
        return data


def _mask_url(url: str) -> str:
    """``scheme://user:secret@host`` -> ``scheme://user:***@host``; anything else unchanged."""
    scheme, sep, rest = url.partition("//")
    creds, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in creds:
        return url
    return f"{scheme}//{creds.split(':', 1)[0]}:***@{host}"


# Glance option name -> our field, per INI section (DEFAULT also covers options that Glance keeps elsewhere).
_INI_OPTIONS: dict[tuple[str, str], str] = {
    ("DEFAULT", "bind_host"): "host",
    ("DEFAULT", "bind_port"): "port",
    ("DEFAULT", "workers"): "workers",
    ("DEFAULT", "image_size_cap"): "image_size_cap",
    ("DEFAULT", "max_request_body_size"): "max_request_body_size",
    ("DEFAULT", "hashing_algorithm"): "hashing_algorithm",
    ("DEFAULT", "limit_param_default"): "limit_param_default",
    ("DEFAULT", "api_limit_max"): "api_limit_max",
    ("DEFAULT", "image_property_quota"): "image_property_quota",
    ("DEFAULT", "image_tag_quota"): "image_tag_quota",
    ("DEFAULT", "image_member_quota"): "image_member_quota",
    ("DEFAULT", "image_location_quota"): "image_location_quota",
    ("DEFAULT", "show_image_direct_url"): "show_image_direct_url",
    ("DEFAULT", "show_multiple_locations"): "show_multiple_locations",
    ("DEFAULT", "public_endpoint"): "public_endpoint",
    ("image_format", "disk_formats"): "disk_formats",
    ("DEFAULT", "enabled_import_methods"): "enabled_import_methods",
    ("import_filtering_opts", "allowed_schemes"): "import_allowed_schemes",
    ("import_filtering_opts", "disallowed_schemes"): "import_disallowed_schemes",
    ("import_filtering_opts", "allowed_hosts"): "import_allowed_hosts",
    ("import_filtering_opts", "disallowed_hosts"): "import_disallowed_hosts",
    ("import_filtering_opts", "allowed_ports"): "import_allowed_ports",
    ("import_filtering_opts", "disallowed_ports"): "import_disallowed_ports",
    ("glimpse", "worker_in_process"): "worker_in_process",
    ("glimpse", "task_heartbeat_interval"): "task_heartbeat_interval",
    ("glimpse", "task_stale_after"): "task_stale_after",
    ("glimpse", "task_max_attempts"): "task_max_attempts",
    ("glimpse", "metadef_records_per_project"): "metadef_records_per_project",
    ("glimpse", "glance_download_endpoints"): "glance_download_endpoints",
    ("glimpse", "glance_download_token"): "glance_download_token",
    ("os_glance_staging_store", "filesystem_store_datadir"): "staging_dir",
    ("image_format", "container_formats"): "container_formats",
    ("image_format", "require_image_format_match"): "require_image_format_match",
    ("database", "connection"): "database_url",
    ("database", "busy_timeout"): "database_busy_timeout",
    ("glance_store", "default_backend"): "default_backend",
    ("glimpse", "data_dir"): "data_dir",
    ("glimpse", "auth"): "auth",
    ("glimpse", "token_file"): "token_file",
    ("glimpse", "log_level"): "log_level",
    ("glimpse", "log_format"): "log_format",
    ("glimpse", "auto_migrate"): "auto_migrate",
    ("glimpse", "recover_on_start"): "recover_on_start",
    ("oslo_policy", "policy_file"): "policy_file",
    ("glimpse", "enable_manager_role"): "enable_manager_role",
    ("DEFAULT", "enabled_artifact_types"): "enabled_artifact_types",
    ("DEFAULT", "default_api_limit"): "default_api_limit",
    ("DEFAULT", "max_api_limit"): "max_api_limit",
    ("DEFAULT", "max_blob_size"): "max_blob_size",
    ("artifacts", "bind_host"): "artifacts_host",
    ("artifacts", "bind_port"): "artifacts_port",
    ("artifacts", "mount"): "artifacts_mount",
    ("DEFAULT", "property_protection_file"): "property_protection_file",
    ("DEFAULT", "property_protection_rule_format"): "property_protection_rule_format",
    ("DEFAULT", "use_keystone_limits"): "use_keystone_limits",
}
_LIST_FIELDS = {
    "enabled_artifact_types",
    "disk_formats", "container_formats", "enabled_import_methods", "import_allowed_schemes",
    "import_disallowed_schemes", "import_allowed_hosts", "import_disallowed_hosts", "import_allowed_ports",
    "import_disallowed_ports",
}  # fmt: skip
# Options Glance has that we accept silently because they describe what we do anyway.
_KNOWN_ELSEWHERE = {("DEFAULT", "enabled_backends"), ("DEFAULT", "debug"), ("paste_deploy", "flavor")}
_FLAVOR_AUTH = {"keystone": "keystone", "keystone+cachemanagement": "keystone", "": "noauth"}


_DICT_FIELDS = {"glance_download_endpoints"}
_KEYSTONE_OPTIONS = frozenset(KeystoneAuthSettings.model_fields)
_KEYSTONE_LIST_OPTIONS = {"service_token_roles", "memcached_servers"}
_LIMIT_OPTIONS = frozenset(OsloLimitSettings.model_fields)


def _split_dict(value: str) -> dict[str, str]:
    """``name=value, name=value`` (the value may contain ':' and '=')."""
    pairs = (item.split("=", 1) for item in _split_list(value))
    return {name.strip(): rest.strip() for name, rest in pairs}


def _split_list(value: str) -> list[str]:
    """``a, b`` or Glance's ``[a, b]`` / ``['a', 'b']``."""
    value = value.strip().removeprefix("[").removesuffix("]")
    return [item.strip().strip("'\"") for item in value.split(",") if item.strip().strip("'\"")]


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
        for option, raw in parser.items(section):
            key = (section, option)
            if key in _INI_OPTIONS:
                field = _INI_OPTIONS[key]
                if field in _DICT_FIELDS:
                    values[field] = _split_dict(raw)
                else:
                    values[field] = _split_list(raw) if field in _LIST_FIELDS else raw
            elif section in backends:  # the store driver's own options
                continue
            elif section == "oslo_limit" and option in _LIMIT_OPTIONS:
                values.setdefault("oslo_limit", {})[option] = raw
            elif section == "keystone_authtoken" and option in _KEYSTONE_OPTIONS:
                keystone = values.setdefault("keystone_authtoken", {})
                keystone[option] = _split_list(raw) if option in _KEYSTONE_LIST_OPTIONS else raw
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
        stores[name] = {
            "id": name,
            "type": kind,
            "description": options.pop("store_description", ""),
            "weight": int(options.pop("weight", "0")),
            "options": options,
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


_ENV_FIELDS = {
    "DATA_DIR": "data_dir",
    "DATABASE_URL": "database_url",
    "DATABASE_BUSY_TIMEOUT": "database_busy_timeout",
    "AUTH": "auth",
    "TOKEN_FILE": "token_file",
    "HOST": "host",
    "PORT": "port",
    "WORKERS": "workers",
    "LOG_LEVEL": "log_level",
    "LOG_FORMAT": "log_format",
    "IMAGE_SIZE_CAP": "image_size_cap",
    "HASHING_ALGORITHM": "hashing_algorithm",
    "API_LIMIT_MAX": "api_limit_max",
    "PUBLIC_ENDPOINT": "public_endpoint",
    "DEFAULT_BACKEND": "default_backend",
    "POLICY_FILE": "policy_file",
    "ENABLE_MANAGER_ROLE": "enable_manager_role",
}


def _read_env(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for suffix, field in _ENV_FIELDS.items():
        raw = env.get(f"GLIMPSE_{suffix}")
        if raw is not None and raw != "":
            values[field] = raw
    raw_backends = env.get("GLIMPSE_ENABLED_BACKENDS")
    if raw_backends:
        stores: dict[str, Any] = {}
        for item in _split_list(raw_backends):
            name, _, kind = item.partition(":")
            stores[name] = {"id": name, "type": kind or "file"}
        values["stores"] = stores
    keystone: dict[str, Any] = {}
    for option in _KEYSTONE_OPTIONS:  # GLIMPSE_KEYSTONE_AUTH_URL, GLIMPSE_KEYSTONE_PASSWORD, ...
        raw = env.get(f"GLIMPSE_KEYSTONE_{option.upper()}")
        if raw is not None and raw != "":
            keystone[option] = _split_list(raw) if option in _KEYSTONE_LIST_OPTIONS else raw
    if keystone:
        values["keystone_authtoken"] = keystone
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
    if "keystone_authtoken" in from_env:  # option by option over the file's section
        from_env["keystone_authtoken"] = {**values.get("keystone_authtoken", {}), **from_env["keystone_authtoken"]}
    values.update(from_env)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings.model_validate(values)
