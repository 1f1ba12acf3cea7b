"""Trust: the key manager holding signature certificates, and which projects must sign their images."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from glimpse.settings.sources import Env, Ini


class TrustGroup(BaseModel):
    """Settings' fields for the key manager and required signatures."""

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
    # encryption at rest: how long a key-encryption key read from the key manager is kept in memory (seconds);
    # 0 reads it for every object written or read
    at_rest_key_cache_time: Annotated[int, Ini("key_manager", "at_rest_key_cache_time"), Field(ge=0)] = 300
    # projects whose image data must be signed (all four img_signature* properties, verified): project ids,
    # or * for every project; uploads and imports of unsigned data are refused with 400
    require_signed_images: Annotated[list[str], Ini("glimpse", "require_signed_images")] = Field(default_factory=list)
    # certificate validation (Nova's default_trusted_certificate_ids): key-manager UUIDs of the certificates the
    # signing certificate of every signed image must chain to, unless the image names its own in
    # img_signature_trusted_certificate_ids; empty: only images that name some are validated
    default_trusted_certificate_ids: Annotated[list[str], Ini("glimpse", "default_trusted_certificate_ids")] = Field(
        default_factory=list
    )
    # projects whose image data must be encrypted by its owner (the os_encrypt_* set, or Cinder's names, with a
    # key in the key manager): project ids, or * for every project; uploads and imports of data into an image
    # without that metadata are refused with 400
    require_encrypted_images: Annotated[list[str], Ini("glimpse", "require_encrypted_images")] = Field(
        default_factory=list
    )
