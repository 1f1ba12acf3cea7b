"""S3 stores on the real S3 API of scripts/swift-up (Swift's s3api), each over a fresh bucket.

The bucket, with every object and unfinished multipart upload left in it, is removed afterwards. The
endpoint and credentials are $GLIMPSE_S3_ENDPOINT / _ACCESS_KEY / _SECRET_KEY, by default those of
scripts/swift-up; when the server is down the tests fail.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from glimpse.settings import S3StoreOptions
from glimpse.stores.base import Store
from glimpse.stores.s3 import S3Store, from_options

ENDPOINT = os.environ.get("GLIMPSE_S3_ENDPOINT", "http://127.0.0.1:8080")
ACCESS_KEY = os.environ.get("GLIMPSE_S3_ACCESS_KEY", "glimpse:glimpse")
SECRET_KEY = os.environ.get("GLIMPSE_S3_SECRET_KEY", "glimpse-secret")
REGION = os.environ.get("GLIMPSE_S3_REGION", "us-east-1")


def admin_client() -> Any:
    """A plain boto3 client on the test endpoint (for setting up and inspecting behind the store)."""
    config = Config(
        region_name=REGION,
        s3={"addressing_style": "path"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"mode": "standard", "max_attempts": 3},
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=ENDPOINT, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, config=config
    )


def pending_uploads(client: Any, bucket: str) -> list[dict[str, Any]]:
    uploads: list[dict[str, Any]] = []
    for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        uploads.extend(page.get("Uploads", []))
    return uploads


def object_keys(client: Any, bucket: str) -> list[str]:
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def remove_bucket(client: Any, bucket: str) -> None:
    """Abort the bucket's unfinished uploads, delete its objects, then the bucket; a missing bucket is fine."""
    try:
        client.head_bucket(Bucket=bucket)
    except client.exceptions.ClientError:
        return
    for upload in pending_uploads(client, bucket):
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    for key in object_keys(client, bucket):
        client.delete_object(Bucket=bucket, Key=key)
    client.delete_bucket(Bucket=bucket)


def s3_options(bucket: str, **overrides: str) -> dict[str, str]:
    return {
        "s3_store_host": ENDPOINT,
        "s3_store_access_key": ACCESS_KEY,
        "s3_store_secret_key": SECRET_KEY,
        "s3_store_bucket": bucket,
        "s3_store_create_bucket_on_put": "true",
        "s3_store_bucket_url_format": "path",
        "s3_store_region_name": REGION,
        # small enough that the tests reach a multipart upload with a few parts of S3's 5 MiB minimum
        "s3_store_large_object_size": "6",
        "s3_store_large_object_chunk_size": "5",
        "s3_store_thread_pools": "2",
        **overrides,
    }


@contextmanager
def new_s3_store(*, chunk_size: int = 64 * 1024, **overrides: str) -> Iterator[S3Store]:
    """An S3Store over a fresh bucket (created by the store), removed with everything in it afterwards;
    keyword arguments override ``s3_store_*`` options."""
    bucket = f"glimpse-test-{secrets.token_hex(6)}"
    store = from_options(
        "s3",
        S3StoreOptions.model_validate(s3_options(bucket, **overrides)),
        description="",
        weight=0,
        chunk_size=chunk_size,
    )
    try:
        yield store
    finally:
        remove_bucket(admin_client(), bucket)


@contextmanager
def s3_store(tmp_path: Path) -> Iterator[Store]:
    with new_s3_store() as store:
        yield store
