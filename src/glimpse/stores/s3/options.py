"""The store's options as the driver uses them, and the sizes it plans multipart uploads with."""

from __future__ import annotations

from dataclasses import dataclass, field

from glimpse.settings import S3StoreOptions

MB = 1024 * 1024
# Swift's s3api accepts 1000 parts by default (AWS: 10000): planning for the smaller works with both
MAX_PARTS = 1000
# without a size hint the part size grows by one base size every GROW_EVERY parts, so an upload of unknown
# size can reach 5500 base parts (55 GB with 10 MB parts) within MAX_PARTS
GROW_EVERY = 100
STREAM_READ = 64 * 1024  # the most a streamed PUT hands botocore per read (it copies what it buffers)


# -- configuration -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class S3Options:
    """The store's options as the driver uses them (from ``S3StoreOptions``, Glance's ``s3_store_*``)."""

    endpoint: str
    access_key: str
    secret_key: str = field(repr=False)
    bucket: str
    create_bucket_on_put: bool = False
    addressing_style: str = "auto"  # auto / path / virtual
    large_object_size: int = 100 * MB
    part_size: int = 10 * MB
    thread_pools: int = 10
    region: str = "us-east-1"
    cacert: str | None = None


def resolve_options(options: S3StoreOptions) -> S3Options:
    """The driver's view of a store section (validated by ``S3StoreOptions``): sizes in bytes, the secret
    unwrapped."""
    return S3Options(
        endpoint=options.s3_store_host,
        access_key=options.s3_store_access_key,
        secret_key=options.s3_store_secret_key.get_secret_value(),
        bucket=options.s3_store_bucket,
        create_bucket_on_put=options.s3_store_create_bucket_on_put,
        addressing_style=options.s3_store_bucket_url_format,
        large_object_size=options.s3_store_large_object_size * MB,
        part_size=options.s3_store_large_object_chunk_size * MB,
        thread_pools=options.s3_store_thread_pools,
        region=options.s3_store_region_name or "us-east-1",
        cacert=options.s3_store_cacert or None,
    )
