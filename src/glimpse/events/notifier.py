"""The notifier sink: each outbox event goes to every notification topic as Glance sends it.

oslo.messaging's own ``Notifier`` logs and drops a message it cannot send, and makes a new message id for
every try; an outbox sink must fail instead (the message stays for the next drain) and keep one id per
message and topic across tries (consumers drop duplicates by it). So this sink builds the message itself
(``message_id``, ``publisher_id``, ``event_type``, ``priority``, ``payload``, ``timestamp``, as the
``Notifier`` does) and hands it to the notification transport, which wraps it in the ``messagingv2``
envelope (``messaging``: the 1.0 format) and raises when the broker does not take it.

Each topic (target) has an audience (``[notification_audience] <topic> = <roles>``): a property the
audience could not read under the property protections is left out of that topic's payload. ``*`` sends
every property (what Glance does); a topic that is not listed is read by the ``reader`` role.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import queue
import threading
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any

from glimpse.context import RequestContext
from glimpse.domain.ids import name_id
from glimpse.domain.outbox import OutboxMessage
from glimpse.events import amqp
from glimpse.policy import PropertyProtections
from glimpse.settings import Settings

log = logging.getLogger(__name__)

EVERYTHING = "*"
DEFAULT_AUDIENCE = ("reader",)
_IDS = uuid.UUID("5f0c4a8e-6a51-4d8e-9b1c-6c1f3e1e7a01")  # the namespace of message ids (uuid5)
_VERSIONS = {"messagingv2": 2.0, "messaging": 1.0}
_NEVER = ("locations", "direct_url", "location")  # never in a payload, whatever a caller put there


def oslo_messaging() -> Any:
    """oslo.messaging, loaded on first use (only a server that sends notifications pays for it), on
    oslo.service's threading backend (never eventlet)."""
    with warnings.catch_warnings():  # its executors import eventlet, which warns; it is never used here
        warnings.simplefilter("ignore")
        from oslo_service import backend

        if backend.get_backend_type() is None:
            backend.init_backend(backend.BackendType.THREADING)
        import oslo_messaging as messaging

    return messaging


def message_id(outbox_id: str, topic: str) -> str:
    """The id of one outbox message on one topic: the same on every try."""
    return name_id(_IDS, f"{outbox_id}/{topic}")


@dataclass(frozen=True, slots=True)
class Audience:
    """Who reads a topic: roles (checked against the property protections), or everything."""

    roles: tuple[str, ...]

    @property
    def everything(self) -> bool:
        return EVERYTHING in self.roles

    def context(self) -> RequestContext:
        return RequestContext(user_id=None, project_id=None, roles=frozenset(r.lower() for r in self.roles))


def audiences(settings: Settings) -> dict[str, Audience]:
    declared = settings.notification_audience
    for topic in declared:
        if topic not in settings.notification_topics:
            log.warning("[notification_audience] %s: no such topic in [oslo_messaging_notifications] topics", topic)
    return {topic: Audience(tuple(declared.get(topic) or DEFAULT_AUDIENCE)) for topic in settings.notification_topics}


def for_audience(
    payload: Any, audience: Audience, protections: PropertyProtections | None, memo: dict[str, bool]
) -> Any:
    """``payload`` as ``audience`` may see it: without the properties it may not read, never locations."""
    if not isinstance(payload, Mapping):
        return payload
    shown = {key: value for key, value in payload.items() if key not in _NEVER}
    properties = shown.get("properties")
    if isinstance(properties, Mapping):
        properties = {key: value for key, value in properties.items() if key not in _NEVER}
        if protections is not None and not audience.everything:
            properties = protections.readable(audience.context(), properties, memo)
        shown["properties"] = properties
    return shown


def _timestamp(message: OutboxMessage) -> str:
    """oslo.messaging's notification timestamp (``str()`` of a naive UTC datetime), from when it happened."""
    return str(message.created_at.replace(tzinfo=None))


class SenderThread(Executor):
    """One daemon thread that runs every send. oslo.messaging's rabbit connections start a heartbeat thread
    and keep per-thread state whose clean-up waits for it: a thread of asyncio's default executor that used
    one never finishes exiting, and the process then hangs at exit joining it. A daemon thread that lives as
    long as the sink is never joined (and keeps each connection on one thread)."""

    def __init__(self) -> None:
        self._work: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name="glimpse-notifier", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._work.put((future, functools.partial(fn, **kwargs), args))
        return future

    def _run(self) -> None:
        while (item := self._work.get()) is not None:
            future, fn, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to the waiting coroutine
                future.set_exception(exc)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._work.put(None)


class NotifierSink:
    """Sends outbox events to the notification topics (an outbox ``Sink``)."""

    def __init__(self, settings: Settings, protections: PropertyProtections | None) -> None:
        self.settings = settings
        self.protections = protections
        self.drivers = [driver for driver in settings.notification_driver if driver != "noop"]
        self.audiences = audiences(settings)
        self.publisher_id = settings.default_publisher_id
        self.retry = settings.notification_retry
        self._transport: Any = None
        self._lock = threading.Lock()
        self._sender = SenderThread()
        # plain rabbit:// URLs: batches on one confirmed channel (events/amqp.py); else oslo.messaging's transport
        url = self._url()
        candidates = amqp.brokers(url) if url else None
        self._publisher = amqp.Publisher(candidates) if candidates else None

    @property
    def active(self) -> bool:
        return bool(self.drivers)

    def _url(self) -> str | None:
        url = self.settings.notification_transport_url or self.settings.transport_url
        return url.get_secret_value() if url is not None else None

    def transport(self) -> Any:
        with self._lock:
            if self._transport is None:
                from oslo_config import cfg

                messaging = oslo_messaging()
                conf = cfg.ConfigOpts()
                conf([], project="glimpse", default_config_files=[], default_config_dirs=[])
                messaging.set_transport_defaults("glance")  # Glance's control exchange
                self._transport = messaging.get_notification_transport(conf, url=self._url())
            return self._transport

    async def deliver(self, message: OutboxMessage) -> None:
        if self.drivers:
            await asyncio.get_running_loop().run_in_executor(self._sender, self.send, message)

    async def deliver_batch(self, messages: Sequence[OutboxMessage]) -> tuple[int, str | None]:
        """Send ``messages`` in order in one worker thread; how many went, and the error that stopped it."""
        if not self.drivers:
            return len(messages), None
        return await asyncio.get_running_loop().run_in_executor(self._sender, self._send_all, messages)

    def _send_all(self, messages: Sequence[OutboxMessage]) -> tuple[int, str | None]:
        if self._publisher is not None:
            return self._publish_all(messages)
        for done, message in enumerate(messages):
            try:
                self.send(message)
            except Exception as exc:
                return done, f"{type(exc).__name__}: {exc}"
        return len(messages), None

    def messages(self, message: OutboxMessage) -> list[tuple[str, str, dict[str, Any]]]:
        """``(topic, priority, message)`` for every topic: what ``send`` hands to the transport."""
        priority = str(message.payload.get("priority", "INFO")).upper()
        payload = message.payload.get("payload")
        memo: dict[str, dict[str, bool]] = {}
        out = []
        for topic, audience in self.audiences.items():
            shown = for_audience(payload, audience, self.protections, memo.setdefault(",".join(audience.roles), {}))
            out.append(
                (
                    topic,
                    priority,
                    {
                        "message_id": message_id(message.id, topic),
                        "publisher_id": self.publisher_id,
                        "event_type": message.topic,
                        "priority": priority,
                        "payload": shown,
                        "timestamp": _timestamp(message),
                    },
                )
            )
        return out

    def _publish_all(self, messages: Sequence[OutboxMessage]) -> tuple[int, str | None]:
        """The batch on the publisher's one channel: how many messages went to every topic, and the error."""
        assert self._publisher is not None
        items: list[tuple[str, str]] = []
        ends: list[int] = []  # where each message's items end
        for message in messages:
            for topic, priority, body in self.messages(message):
                for driver in self.drivers:
                    if driver == "log":
                        logging.getLogger(f"oslo.messaging.notification.{message.topic}").info(json.dumps(body))
                    else:
                        items.append((f"{topic}.{priority.lower()}", amqp.body(body, driver == "messagingv2")))
            ends.append(len(items))
        published, error = self._publisher.publish(items)
        return sum(1 for end in ends if end <= published), error

    def send(self, message: OutboxMessage) -> None:
        """Send ``message`` to every topic with every driver; raises when the broker did not take it."""
        if self._publisher is not None:
            _, error = self._publish_all([message])
            if error is not None:
                raise ConnectionError(error)
            return
        for topic, priority, body in self.messages(message):
            for driver in self.drivers:
                if driver == "log":
                    logging.getLogger(f"oslo.messaging.notification.{message.topic}").info(json.dumps(body))
                    continue
                target = oslo_messaging().Target(topic=f"{topic}.{priority.lower()}")
                # the transport's own send: it raises on failure (the public Notifier swallows errors)
                self.transport()._send_notification(target, {}, body, version=_VERSIONS[driver], retry=self.retry)

    def close(self) -> None:
        if self._publisher is not None:
            self._sender.submit(self._publisher.close)
        with self._lock:
            if self._transport is not None:
                self._transport.cleanup()
                self._transport = None
        self._sender.shutdown(wait=False)


def sinks_for(settings: Settings, protections: PropertyProtections | None) -> Sequence[NotifierSink]:
    sink = NotifierSink(settings, protections)
    return [sink] if sink.active else []
