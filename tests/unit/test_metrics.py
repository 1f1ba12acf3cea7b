"""glimpse.metrics: one registry per object, bounded labels, the exposition formats."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families

from glimpse import errors
from glimpse.metrics import UPLOAD_FAILURE_REASONS, Metrics, upload_failure_reason


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the text exposition, keyed by name and sorted labels."""
    body, _ = metrics.render()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return samples(metrics).get((name, tuple(sorted(labels.items()))))


def test_each_object_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.observe_request("GET", "/v2/images", 200, 0.01)
    assert value(first, "glimpse_http_requests_total", method="GET", route="/v2/images", status="200") == 1
    assert value(second, "glimpse_http_requests_total", method="GET", route="/v2/images", status="200") is None


def test_requests_are_counted_by_method_route_and_status() -> None:
    metrics = Metrics()
    for status in (200, 200, 404):
        metrics.observe_request("GET", "/v2/images/{image_id}", status, 0.002)
    metrics.observe_request("DELETE", "/v2/images/{image_id}", 204, 0.003)
    assert value(metrics, "glimpse_http_requests_total", method="GET", route="/v2/images/{image_id}", status="200") == 2
    assert value(metrics, "glimpse_http_requests_total", method="GET", route="/v2/images/{image_id}", status="404") == 1
    assert (
        value(metrics, "glimpse_http_requests_total", method="DELETE", route="/v2/images/{image_id}", status="204") == 1
    )


def test_latency_histogram() -> None:
    metrics = Metrics()
    metrics.observe_request("GET", "/versions", 200, 0.0004)
    metrics.observe_request("GET", "/versions", 200, 0.2)
    name = "glimpse_http_request_duration_seconds"
    assert value(metrics, f"{name}_count", method="GET", route="/versions") == 2
    assert value(metrics, f"{name}_sum", method="GET", route="/versions") == pytest.approx(0.2004)
    assert value(metrics, f"{name}_bucket", method="GET", route="/versions", le="0.001") == 1
    assert value(metrics, f"{name}_bucket", method="GET", route="/versions", le="0.25") == 2
    assert value(metrics, f"{name}_bucket", method="GET", route="/versions", le="+Inf") == 2


def test_unknown_methods_share_one_label() -> None:
    metrics = Metrics()
    metrics.observe_request("BREW", "unmatched", 405, 0.001)
    metrics.observe_request("PROPFIND", "unmatched", 405, 0.001)
    assert value(metrics, "glimpse_http_requests_total", method="other", route="unmatched", status="405") == 2


def test_store_bytes_per_store_and_direction() -> None:
    metrics = Metrics(["fast", "cheap"])
    assert value(metrics, "glimpse_store_bytes_total", store="cheap", direction="in") == 0
    metrics.bytes_in("fast", 1000)
    metrics.bytes_in("fast", 24)
    metrics.bytes_out("fast", 512)
    metrics.bytes_out("other", 7)  # a store not named up front still gets its series
    assert value(metrics, "glimpse_store_bytes_total", store="fast", direction="in") == 1024
    assert value(metrics, "glimpse_store_bytes_total", store="fast", direction="out") == 512
    assert value(metrics, "glimpse_store_bytes_total", store="other", direction="out") == 7


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (errors.ClientDisconnected("gone"), "client_disconnect"),
        (errors.TooLarge("cap"), "too_large"),
        (errors.StoreError("disk"), "store_error"),
        (errors.StoreUnavailable("down"), "store_error"),
        (errors.DatabaseUnavailable("down"), "database_unavailable"),
        (errors.BadRequest("size"), "bad_request"),
        (errors.UnsupportedMediaType("type"), "bad_request"),
        (errors.InvalidTransition("active", "saving"), "conflict"),
        (errors.Forbidden("no"), "forbidden"),
        (errors.NotFound("gone"), "not_found"),
        (asyncio.CancelledError(), "cancelled"),
        (RuntimeError("bug"), "other"),
    ],
)
def test_upload_failure_reasons(exc: BaseException, reason: str) -> None:
    assert upload_failure_reason(exc) == reason
    metrics = Metrics()
    metrics.upload_failed(exc)
    assert value(metrics, "glimpse_upload_failures_total", reason=reason) == 1


def test_every_failure_reason_is_exported_from_the_start() -> None:
    metrics = Metrics()
    for reason in UPLOAD_FAILURE_REASONS:
        assert value(metrics, "glimpse_upload_failures_total", reason=reason) == 0


def test_render_text_and_openmetrics() -> None:
    metrics = Metrics()
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    assert b"# TYPE glimpse_http_requests_total counter" in body
    body, content_type = metrics.render("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")
