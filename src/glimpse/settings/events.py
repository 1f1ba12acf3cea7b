"""Notifications (Glance's oslo.messaging options), the outbox that sends them, and webhooks."""

from __future__ import annotations

import socket
from typing import Annotated

from pydantic import BaseModel, Field, SecretStr, field_validator

from glimpse.settings.masking import SecretUrl
from glimpse.settings.sources import Env, Ini, IniOptions

NOTIFICATION_DRIVERS = ("messagingv2", "messaging", "log", "noop")


class EventGroup(BaseModel):
    """Settings' fields for notifications and the outbox."""

    # notifications (Glance's options; docs/notifications.md): no driver or `noop` sends none
    notification_driver: Annotated[
        list[str], Ini("oslo_messaging_notifications", "driver"), Env("GLIMPSE_NOTIFICATION_DRIVER")
    ] = Field(default_factory=list)
    notification_topics: Annotated[
        list[str], Ini("oslo_messaging_notifications", "topics"), Env("GLIMPSE_NOTIFICATION_TOPICS")
    ] = Field(default_factory=lambda: ["notifications"])
    notification_transport_url: Annotated[
        SecretUrl | None,
        Ini("oslo_messaging_notifications", "transport_url"),
        Env("GLIMPSE_NOTIFICATION_TRANSPORT_URL"),
    ] = None
    transport_url: Annotated[SecretUrl | None, Ini("DEFAULT", "transport_url")] = None
    # 0: one try per drain, the outbox retries (-1, oslo's forever, holds the task worker while the bus is down)
    notification_retry: Annotated[int, Ini("oslo_messaging_notifications", "retry")] = Field(default=0, ge=-1)
    default_publisher_id: Annotated[str, Ini("DEFAULT", "default_publisher_id")] = Field(
        default_factory=lambda: f"image.{socket.gethostname()}"
    )
    disabled_notifications: Annotated[list[str], Ini("DEFAULT", "disabled_notifications")] = Field(default_factory=list)
    # topic -> roles of its audience; "*" sends every property (Glance's behaviour); unlisted topics: reader
    notification_audience: Annotated[dict[str, list[str]], IniOptions("notification_audience")] = Field(
        default_factory=dict
    )
    # seconds between the worker's retries of undelivered outbox messages (a failed send waits for it)
    outbox_retry_interval: Annotated[float, Ini("glimpse", "outbox_retry_interval")] = Field(default=5.0, gt=0)
    # webhooks (docs/webhooks.md): /v2/webhooks answers 404 and no event is recorded for them unless enabled
    webhooks_enabled: Annotated[bool, Ini("webhooks", "enabled"), Env("GLIMPSE_WEBHOOKS_ENABLED")] = False
    webhook_max_per_project: Annotated[int, Ini("webhooks", "max_per_project")] = Field(default=10, ge=0)
    # seconds one delivery attempt may take (connection, request and answer)
    webhook_timeout: Annotated[float, Ini("webhooks", "timeout")] = Field(default=5.0, gt=0)
    # deliveries on the wire at once to one receiver (HTTP/1.1 pipelining, after its first answer kept the
    # connection open); 1: one at a time
    webhook_pipeline: Annotated[int, Ini("webhooks", "pipeline")] = Field(default=16, ge=1, le=256)
    # attempts of one delivery before it is given up
    webhook_max_attempts: Annotated[int, Ini("webhooks", "max_attempts")] = Field(default=8, ge=1)
    # seconds before the second attempt, doubled before each further one, at most backoff_max
    webhook_backoff: Annotated[float, Ini("webhooks", "backoff")] = Field(default=2.0, gt=0)
    webhook_backoff_max: Annotated[float, Ini("webhooks", "backoff_max")] = Field(default=3600.0, gt=0)
    # failed attempts in a row (any of its deliveries) after which a webhook is disabled
    webhook_disable_after: Annotated[int, Ini("webhooks", "disable_after")] = Field(default=20, ge=1)
    # Fernet keys that seal webhook secrets in the database, comma-separated: the first seals, each opens (key
    # rotation); none: a key made once in <data_dir>/webhooks.key
    webhook_secret_key: Annotated[
        SecretStr | None, Ini("webhooks", "secret_key"), Env("GLIMPSE_WEBHOOK_SECRET_KEY")
    ] = None

    @field_validator("notification_driver")
    @classmethod
    def _known_driver(cls, value: list[str]) -> list[str]:
        unknown = [driver for driver in value if driver not in NOTIFICATION_DRIVERS]
        if unknown:
            raise ValueError(
                f"unsupported notification driver {', '.join(unknown)}; one of {', '.join(NOTIFICATION_DRIVERS)}"
            )
        return value
