"""The service's Prometheus metrics: one object per application, built in ``container.py``, passed explicitly.

Each ``Metrics`` owns its own ``CollectorRegistry`` (nothing is registered in the library's global one),
so tests and several apps in one process never see each other's figures. Recording is kept cheap: the
labelled children of the per-request metrics are cached, so a request costs one dict lookup, one
counter increment and one histogram observation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder

from glimpse import errors

# the route label of a request that matched no route (a 404 for an unknown path): never the raw path
UNMATCHED: Final = "unmatched"
METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
LATENCY_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)
UPLOAD_FAILURE_REASONS: Final = (
    "client_disconnect",
    "too_large",
    "store_error",
    "database_unavailable",
    "bad_request",
    "conflict",
    "forbidden",
    "not_found",
    "cancelled",
    "other",
)
_REASON_BY_ERROR: Final[tuple[tuple[type[BaseException], str], ...]] = (
    (errors.ClientDisconnected, "client_disconnect"),
    (errors.TooLarge, "too_large"),
    (errors.StoreError, "store_error"),
    (errors.DatabaseUnavailable, "database_unavailable"),
    (errors.UnsupportedMediaType, "bad_request"),
    (errors.BadRequest, "bad_request"),
    (errors.Conflict, "conflict"),
    (errors.Forbidden, "forbidden"),
    (errors.NotFound, "not_found"),
    (asyncio.CancelledError, "cancelled"),
)


def upload_failure_reason(exc: BaseException) -> str:
    """The bounded ``reason`` label of a failed upload."""
    for kind, reason in _REASON_BY_ERROR:
        if isinstance(exc, kind):
            return reason
    return "other"


class Metrics:
    def __init__(self, store_ids: Iterable[str] = ()) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "glimpse_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "glimpse_http_request_duration_seconds",
            "Time from receiving a request to sending the last byte of its response, by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.store_bytes = Counter(
            "glimpse_store_bytes",
            "Image data bytes by store: direction=in was received for uploads, direction=out sent by downloads.",
            ["store", "direction"],
            registry=self.registry,
        )
        self.upload_failures = Counter(
            "glimpse_upload_failures",
            "Image data uploads that failed, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.token_validations = Counter(
            "glimpse_auth_token_validations",
            "Tokens checked by Keystone authentication, by where the answer came from (source=cache or keystone) "
            "and result (valid, invalid, unavailable).",
            ["source", "result"],
            registry=self.registry,
        )
        self.cache_hits = Counter(
            "glimpse_image_cache_hits", "Image downloads served from this node's image cache.", registry=self.registry
        )
        self.cache_misses = Counter(
            "glimpse_image_cache_misses",
            "Image downloads the image cache could not serve (read from a store instead).",
            registry=self.registry,
        )
        self.cache_bytes = Counter(
            "glimpse_image_cache_bytes",
            "Image cache bytes: direction=out served from the cache, direction=in written into it.",
            ["direction"],
            registry=self.registry,
        )
        self.cache_evictions = Counter(
            "glimpse_image_cache_evictions",
            "Images removed from the image cache, by reason (budget, invalid, inactive, deleted).",
            ["reason"],
            registry=self.registry,
        )
        self.db_reads = Counter(
            "glimpse_db_reads",
            "Lists and shows with a read replica configured, by the server that answered (server=replica or "
            "primary) and, for the primary, why (behind: the replica had not replayed a change the caller must "
            "see; unavailable: it could not be reached; refused: it refused the query).",
            ["server", "reason"],
            registry=self.registry,
        )
        for direction in ("in", "out"):
            self.cache_bytes.labels(direction)
        for reason in ("budget", "invalid", "inactive", "deleted"):
            self.cache_evictions.labels(reason)
        for reason in UPLOAD_FAILURE_REASONS:
            self.upload_failures.labels(reason)
        for store_id in store_ids:
            self.store_bytes.labels(store_id, "in")
            self.store_bytes.labels(store_id, "out")
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its duration. ``route`` is the template, e.g. /v2/images/{image_id}."""
        if method not in METHODS:
            method = "other"
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            children = (self.requests.labels(method, route, str(status)), self.latency.labels(method, route))
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def db_read(self, reason: str | None) -> None:
        """Count one read a replica could have served: by it (``reason`` None), else by the primary."""
        if reason is None:
            self.db_reads.labels("replica", "").inc()
        else:
            self.db_reads.labels("primary", reason).inc()

    def bytes_in(self, store_id: str, count: int) -> None:
        self.store_bytes.labels(store_id, "in").inc(count)

    def bytes_out(self, store_id: str, count: int) -> None:
        self.store_bytes.labels(store_id, "out").inc(count)

    def upload_failed(self, exc: BaseException) -> None:
        self.upload_failures.labels(upload_failure_reason(exc)).inc()

    def token_validated(self, source: str, result: str) -> None:
        """Count one token check: ``source`` is ``cache`` or ``keystone``; ``result`` valid, invalid or unavailable."""
        self.token_validations.labels(source, result).inc()

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """The exposition (Prometheus text, or OpenMetrics when ``accept`` asks for it) and its content type."""
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type
