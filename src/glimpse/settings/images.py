"""The Images API: size caps, formats, hashing, list limits, per-image quotas, what an image shows, start-up;
and the data path's block sizes.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from glimpse.settings.sources import Env, Ini

DEFAULT_DISK_FORMATS = ["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"]
DEFAULT_CONTAINER_FORMATS = ["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]
HASH_ALGORITHMS = ("sha1", "sha224", "sha256", "sha384", "sha512", "md5", "sha3_256", "sha3_512", "blake2b")


class ImageGroup(BaseModel):
    """Settings' fields for the Images API."""

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

    @field_validator("hashing_algorithm")
    @classmethod
    def _known_hash(cls, value: str) -> str:
        if value not in HASH_ALGORITHMS:
            raise ValueError(f"unsupported hashing_algorithm {value!r}; one of {', '.join(HASH_ALGORITHMS)}")
        return value


class DataPathGroup(BaseModel):
    """Settings' fields for the block sizes of the data path."""

    upload_block_size: int = 4 * 1024 * 1024
    download_chunk_size: int = 1024 * 1024
