"""What a failed S3 call becomes: this store's error (nothing of botocore's crosses the driver's edge)."""

from __future__ import annotations

from botocore.exceptions import ClientError, HTTPClientError, IncompleteReadError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError

from glimpse.errors import StorageFull, StorageWriteDenied, StoreError, StoreUnavailable

_CREDENTIAL_ERRORS = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AuthorizationHeaderMalformed", "InvalidToken", "ExpiredToken"}
)
_DENIED = frozenset({"AccessDenied", "AllAccessDisabled", "AccountProblem", "InvalidObjectState"})
_FULL = frozenset({"QuotaExceeded", "EntityTooLarge", "InsufficientStorage", "StorageFull", "NotEnoughSpace"})
_CORRUPTED = frozenset({"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "InvalidChunkSizeError"})
_TRANSIENT = frozenset({"SlowDown", "ServiceUnavailable", "RequestTimeout", "InternalError", "Throttling"})


# -- errors ------------------------------------------------------------------------------------------------
def failure(store_id: str, bucket: str, exc: Exception, what: str, *, writing: bool = False) -> StoreError:
    """This store's error for a failed S3 call (nothing of botocore's crosses the driver's edge)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        detail = f"{code or status}: {error.get('Message') or 'no message'}"
        if code in _CREDENTIAL_ERRORS:
            return StoreError(
                f"Store {store_id} {what}: the S3 service rejected its credentials ({detail}); "
                f"check s3_store_access_key and s3_store_secret_key"
            )
        if code == "NoSuchBucket":
            return StoreError(f"Store {store_id} {what}: its bucket {bucket} does not exist")
        if code in _FULL or status == 507:
            return StorageFull(f"Image storage media is full: store {store_id} {what}: {detail}")
        if code in _DENIED or status == 403:
            if writing:
                return StorageWriteDenied(f"Store {store_id} cannot write: {detail}")
            return StoreError(f"Store {store_id} {what}: access denied ({detail})")
        if code in _CORRUPTED:
            return StoreError(f"Store {store_id} {what}: the data was damaged on its way ({detail})")
        if code in _TRANSIENT or status in (500, 502, 503, 504):
            return StoreUnavailable(f"Store {store_id} {what}: the S3 service is unavailable ({detail})")
        return StoreError(f"Store {store_id} {what}: {detail}")
    if isinstance(exc, (BotoConnectionError, HTTPClientError, IncompleteReadError)):  # refused, reset, timed out
        return StoreUnavailable(f"Store {store_id} {what}: the S3 service cannot be reached ({exc})")
    if isinstance(exc, NoCredentialsError):
        return StoreError(f"Store {store_id} {what}: no S3 credentials configured")
    return StoreError(f"Store {store_id} {what}: {type(exc).__name__}: {exc}")


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def http_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
