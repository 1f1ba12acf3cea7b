"""An S3 bucket (AWS S3, Ceph RGW, Swift's s3api, MinIO, ...) through boto3.

One bucket per store; an image is the object named by its key. Locations are
``s3://<host[:port]>/<bucket>/<key>`` (``s3+http://`` when the endpoint is plain HTTP) and never carry
credentials. The unfinished multipart uploads of a key are listed as partial objects with their own
location (the upload id in the query), so ``glimpse fsck`` can tell them apart and remove them.

Writing:

* size known and below ``s3_store_large_object_size``: one PUT streamed straight from the source (no
  buffering), sent ``aws-chunked`` with a CRC32 trailer that the service checks before storing anything;
* size known and at least that large: a multipart upload;
* size unknown: up to ``s3_store_large_object_size`` is buffered; a source that ends before is sent as one
  PUT with its Content-MD5, a longer one becomes a multipart upload.

Multipart uploads send parts of ``s3_store_large_object_chunk_size`` from ``s3_store_thread_pools`` threads,
each with its Content-MD5 (checked by the service). Memory stays bounded: the parts in flight never hold
more than ``thread_pools`` parts' worth of bytes, plus the part being filled (and, size unknown, the first
``s3_store_large_object_size`` bytes buffered before deciding). Any failure (the source's, the service's, a
cancellation) aborts the upload; nothing stays behind.

Checksums are chosen here, not left to botocore's defaults: ``request_checksum_calculation`` is
``when_required`` (its default computes a CRC32 *header* over plain HTTP, which means reading a streamed
body twice before sending it), and each request says what it carries: Content-MD5 on parts and buffered
PUTs, the CRC32 trailer on streamed PUTs; the service rejects data that does not match. Payloads are not
SHA-256 signed (``payload_signing_enabled`` off): the signed Content-MD5 header (or the trailer) already
guards the data, and SHA-256 over every byte on both ends costs throughput for no further protection
against damage. ``response_checksum_validation`` is ``when_required``: reads are ranged and streamed,
whole-object checksums cannot validate a range, and Swift's s3api returns none.

The package: ``options``, ``errors``, ``transfer`` (the streamed body, multipart parts), ``base`` (the client,
locations, the bucket), ``writes`` (put, delete), ``reads`` (open, stat, list), ``store`` (:class:`S3Store`,
the parts together).
"""

from __future__ import annotations

from glimpse.settings import S3StoreOptions
from glimpse.stores.s3.options import MB, S3Options, resolve_options
from glimpse.stores.s3.store import S3Store

__all__ = ["MB", "S3Options", "S3Store", "from_options", "resolve_options"]


def from_options(store_id: str, options: S3StoreOptions, *, description: str, weight: int, chunk_size: int) -> S3Store:
    return S3Store(store_id, resolve_options(options), description=description, weight=weight, chunk_size=chunk_size)
