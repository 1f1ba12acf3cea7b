"""Glance's notifications on the real RabbitMQ (127.0.0.1:5672, guest/guest), received by real oslo.messaging
notification listeners, with python-glanceclient driving the server.

The server sends to two topics: ``<reader topic>`` (audience: reader) and ``<admin topic>`` (audience: admin),
through a TCP proxy of this test's own in front of RabbitMQ, so the broker connection can be cut without
touching the system's RabbitMQ. A property protection file lets only admins read ``secret_*`` properties.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from glimpse.events.notifier import oslo_messaging
from tests.e2e.conftest import GlimpseServer, create_tokens, launch
from tests.serverproc import new_database
from tests.serverproc import server_env as _server_env
from tests.serverproc import stop as _stop
from tests.unit.events.test_events import PROTECTIONS

RABBIT = ("127.0.0.1", 5672)
RABBIT_URL = "rabbit://guest:guest@127.0.0.1:5672/"
KOMBU_URL = "amqp://guest:guest@127.0.0.1:5672//"
WAIT = 120.0  # seconds an event may take to arrive (a loaded machine; the broker is back)

CONFIG = """\
[DEFAULT]
property_protection_file = {protections}

[oslo_messaging_notifications]
driver = messagingv2
topics = {reader}, {admin}
transport_url = rabbit://guest:guest@127.0.0.1:{port}/

[notification_audience]
{reader} = reader
{admin} = admin

[glimpse]
outbox_retry_interval = 0.5
"""


def rabbit_is_up() -> bool:
    with contextlib.suppress(OSError), socket.create_connection(RABBIT, timeout=5):
        return True
    return False


class TcpProxy:
    """127.0.0.1:<port> -> RabbitMQ; ``cut()`` drops every connection and refuses new ones until ``resume()``."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.open = threading.Event()
        self.open.set()
        self.lock = threading.Lock()
        self.pairs: set[tuple[socket.socket, socket.socket]] = set()
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open.is_set():
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            pair = (client, upstream)
            with self.lock:
                self.pairs.add(pair)
                self.accepted += 1
            threading.Thread(target=self._pump, args=(client, upstream, pair), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, pair), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, pair: tuple[socket.socket, socket.socket]) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self.lock:
                self.pairs.discard(pair)
            _close(source)
            _close(sink)

    def cut(self) -> None:
        self.open.clear()
        with self.lock:
            pairs, self.pairs = list(self.pairs), set()
        for pair in pairs:
            for sock in pair:
                _close(sock)

    def resume(self) -> None:
        self.open.set()

    def close(self) -> None:
        self.cut()
        _close(self.listener)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@dataclass
class Received:
    topic: str
    publisher_id: str
    event_type: str
    payload: Any
    message_id: str
    timestamp: str


@dataclass
class Collector:
    """An oslo.messaging notification endpoint: keeps every notification of one topic."""

    topic: str
    got: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def info(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any, metadata: dict[str, Any]) -> None:
        with self.lock:
            self.got.append(
                Received(self.topic, publisher_id, event_type, payload, metadata["message_id"], metadata["timestamp"])
            )

    error = warn = info

    def unique(self) -> list[Received]:
        """What arrived, each message id once (delivery is at least once), in arrival order."""
        with self.lock:
            seen: set[str] = set()
            out = []
            for item in self.got:
                if item.message_id not in seen:
                    seen.add(item.message_id)
                    out.append(item)
            return out

    def about(self, *ids: str) -> list[Received]:
        return [item for item in self.unique() if _subject(item.payload) in ids]


def _subject(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    return payload.get("id") or payload.get("image_id")


@dataclass
class Bus:
    server: GlimpseServer
    proxy: TcpProxy
    reader: Collector
    admin: Collector
    data_dir: Path


def _wait_for(condition: Callable[[], bool], what: str, server: GlimpseServer) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {WAIT:.0f}s\n{server.log_tail(60)}", pytrace=False)
        time.sleep(0.1)


@pytest.fixture(scope="module")
def bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bus]:
    if not rabbit_is_up():
        pytest.fail("RabbitMQ does not answer on 127.0.0.1:5672 (.ci/run starts it)", pytrace=False)
    messaging = oslo_messaging()
    from oslo_config import cfg

    suffix = uuid.uuid4().hex[:10]
    topics = {"reader": f"glimpse_e2e_{suffix}", "admin": f"glimpse_e2e_{suffix}_admin"}
    root = tmp_path_factory.mktemp("e2e-notifications")
    data_dir, home = root / "data", root / "home"
    home.mkdir()
    (root / "protections.conf").write_text(PROTECTIONS)
    proxy = TcpProxy(RABBIT)
    config = root / "glimpse.conf"
    config.write_text(CONFIG.format(protections=root / "protections.conf", port=proxy.port, **topics))
    conf = cfg.ConfigOpts()
    conf([], project="glimpse-e2e", default_config_files=[], default_config_dirs=[])
    transport = messaging.get_notification_transport(conf, url=RABBIT_URL)
    collectors = {name: Collector(topic) for name, topic in topics.items()}
    listeners = [
        messaging.get_notification_listener(
            transport, [messaging.Target(topic=collector.topic, exchange="glance")], [collector], executor="threading"
        )
        for collector in collectors.values()
    ]
    for listener in listeners:
        listener.start()
    try:
        with new_database(root, prefix="glimpse_e2e_events") as database_url:
            env = _server_env(data_dir, database_url, home)
            server = GlimpseServer(url="", tokens=create_tokens(env), log_file=root / "server.log", home=home)
            try:
                launch(server, env, config)
                yield Bus(server, proxy, collectors["reader"], collectors["admin"], data_dir)
            finally:
                if server.process is not None:
                    _stop(server.process)
    finally:
        for listener in listeners:
            listener.stop()
            listener.wait()
        transport.cleanup()
        proxy.close()
        _delete_queues(list(topics.values()))


def _delete_queues(topics: list[str]) -> None:
    import kombu

    with kombu.Connection(KOMBU_URL) as connection:
        channel = connection.channel()
        for topic in topics:
            for priority in ("info", "error", "warn"):
                with contextlib.suppress(Exception):
                    channel.queue_delete(f"{topic}.{priority}")


@contextlib.contextmanager
def raw_queue(topic: str) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """A queue of our own bound to ``<topic>.info`` on Glance's exchange: the messages as they are on the wire."""
    import kombu

    connection = kombu.Connection(KOMBU_URL)
    exchange = kombu.Exchange("glance", type="topic", durable=False)
    queue = kombu.Queue(f"raw_{topic}", exchange, routing_key=f"{topic}.info", exclusive=True, auto_delete=True)
    simple = connection.SimpleQueue(queue)
    bodies: list[dict[str, Any]] = []

    def drain() -> list[dict[str, Any]]:
        while True:
            try:
                message = simple.get(block=False)
            except simple.Empty:
                return bodies
            bodies.append(json.loads(message.body) if isinstance(message.body, str | bytes) else message.body)
            message.ack()

    try:
        yield drain
    finally:
        simple.close()
        connection.release()


def _glance(bus: Bus, user: str) -> Any:
    import glanceclient  # type: ignore[import-untyped]

    return glanceclient.Client("2", endpoint=bus.server.url, token=bus.server.tokens[user])


def _http(bus: Bus, user: str) -> httpx.Client:
    return httpx.Client(base_url=bus.server.url, headers={"X-Auth-Token": bus.server.tokens[user]}, timeout=60)


UPLOADED = [
    "image.create",
    "image.update",  # saving
    "image.prepare",
    "image.upload",
    "image.activate",
    "image.update",  # active
    "image.send",  # the download
    "image.member.create",
]
IMPORTED = [
    "image.create",
    "image.update",  # uploading (staged)
    "task.create",
    "image.update",  # importing
    "task.processing",
    "image.prepare",
    "image.upload",
    "image.activate",
    "image.update",  # active
    "task.success",
]


def test_glanceclient_lifecycle_sends_glances_events_in_order(bus: Bus) -> None:
    glance = _glance(bus, "admin")
    data = b"glimpse notifications " * 1000
    with raw_queue(bus.reader.topic) as wire:
        wire()  # the queue exists before anything is sent
        uploaded = glance.images.create(
            name="events-uploaded", disk_format="raw", container_format="bare", visibility="shared",
            os_distro="cirros", secret_owner_note="only admins read this",
        )  # fmt: skip
        glance.images.upload(uploaded.id, io.BytesIO(data))
        assert b"".join(glance.images.data(uploaded.id)) == data
        glance.image_members.create(uploaded.id, "beta")

        imported = glance.images.create(
            name="events-imported", disk_format="raw", container_format="bare", secret_build="ci-42"
        )
        glance.images.stage(imported.id, io.BytesIO(data))
        glance.images.image_import(imported.id, method="glance-direct")
        _wait_for(lambda: glance.images.get(imported.id).status == "active", "the import", bus.server)
        with _http(bus, "admin") as http:
            tasks = http.get(f"/v2/images/{imported.id}/tasks").json()["tasks"]
        task_id = tasks[0]["id"]

        glance.images.delete(uploaded.id)
        glance.images.delete(imported.id)
        ids = (uploaded.id, imported.id, task_id)
        expected = len(UPLOADED) + len(IMPORTED) + 2
        for collector in (bus.reader, bus.admin):
            _wait_for(
                lambda c=collector: len(c.about(*ids)) >= expected,
                f"{expected} events on {collector.topic}",
                bus.server,
            )

        # the v2 envelope on the wire: {"oslo.version": "2.0", "oslo.message": "<the notification as JSON>"}
        _wait_for(lambda: len(wire()) >= expected, "the raw messages", bus.server)
        on_wire = wire()
    envelope = on_wire[0]
    assert set(envelope) == {"oslo.version", "oslo.message"}
    assert envelope["oslo.version"] == "2.0"
    inner = json.loads(envelope["oslo.message"])
    assert {"message_id", "publisher_id", "event_type", "priority", "payload", "timestamp"} <= set(inner)
    assert inner["event_type"] == "image.create"
    assert inner["priority"] == "INFO"

    for collector in (bus.reader, bus.admin):
        events = collector.about(*ids)
        assert [e.event_type for e in events if _subject(e.payload) in (uploaded.id,)][: len(UPLOADED)] == UPLOADED
        flow = [e.event_type for e in events if _subject(e.payload) in (imported.id, task_id)]
        assert flow[: len(IMPORTED)] == IMPORTED
        assert [e.event_type for e in events][-2:] == ["image.delete", "image.delete"]
        assert len(events) == expected
        assert {e.publisher_id for e in events} == {f"image.{socket.gethostname()}"}
        for event in events:
            text = json.dumps(event.payload)
            assert "locations" not in event.payload
            assert str(bus.data_dir) not in text  # no location URL (file://<data dir>/...) anywhere
        deleted = [e.payload for e in events if e.event_type == "image.delete"]
        assert all(p["deleted"] is True and p["status"] == "deleted" for p in deleted)
        created = next(e.payload for e in events if e.event_type == "image.create" and e.payload["id"] == uploaded.id)
        assert created["properties"].get("os_distro") == "cirros"
        active = [e.payload for e in events if e.event_type == "image.activate"]
        assert {p["size"] for p in active} == {len(data)}
        send = next(e.payload for e in events if e.event_type == "image.send")
        assert send == {
            "bytes_sent": len(data), "image_id": uploaded.id, "owner_id": "admin", "receiver_tenant_id": "admin",
            "receiver_user_id": "admin",
        }  # fmt: skip
        member = next(e.payload for e in events if e.event_type == "image.member.create")
        assert member["member_id"] == "beta"
        assert member["status"] == "pending"
        task = next(e.payload for e in events if e.event_type == "task.success")
        assert task["status"] == "success"
        assert task["type"] == "api_image_import"

    # property protections: the reader topic never carries what a reader could not read; the admin one does
    for event in bus.reader.about(*ids):
        if isinstance(event.payload.get("properties"), dict):
            assert not any(name.startswith("secret_") for name in event.payload["properties"]), event
    admin_creates = {e.payload["id"]: e.payload for e in bus.admin.about(*ids) if e.event_type == "image.create"}
    assert admin_creates[uploaded.id]["properties"]["secret_owner_note"] == "only admins read this"
    assert admin_creates[imported.id]["properties"]["secret_build"] == "ci-42"
    # the same event has a different message id on each topic, and each is sent once
    reader_ids = {e.message_id for e in bus.reader.about(*ids)}
    assert not reader_ids & {e.message_id for e in bus.admin.about(*ids)}


def test_every_event_arrives_after_a_broker_outage_and_none_of_refused_changes(bus: Bus) -> None:
    burst = 24
    created: list[str] = []
    with _http(bus, "alpha") as http:
        target = http.post(
            "/v2/images", json={"name": "events-outage-target", "disk_format": "raw", "container_format": "bare"}
        ).json()["id"]
        _wait_for(lambda: bool(bus.reader.about(target)), "the target's image.create", bus.server)
        for n in range(burst):
            if n == burst // 3:
                bus.proxy.cut()  # the broker goes away in the middle of the burst
            reply = http.post(
                "/v2/images", json={"name": f"events-outage-{n}", "disk_format": "raw", "container_format": "bare"}
            )
            assert reply.status_code == 201, reply.text
            created.append(reply.json()["id"])
            if n == burst // 2:
                # refused changes (no event may come of them): a duplicate id, a protected property
                duplicate = http.post("/v2/images", json={"id": target, "name": "dup"})
                assert duplicate.status_code == 409
                forbidden = http.patch(
                    f"/v2/images/{target}",
                    json=[{"op": "add", "path": "/secret_x", "value": "y"}],
                    headers={"Content-Type": "application/openstack-images-v2.1-json-patch"},
                )
                assert forbidden.status_code == 403
        # a change that did commit while the broker was away
        renamed = http.patch(
            f"/v2/images/{target}",
            json=[{"op": "replace", "path": "/name", "value": "events-outage-renamed"}],
            headers={"Content-Type": "application/openstack-images-v2.1-json-patch"},
        )
        assert renamed.status_code == 200
    with _http(bus, "admin") as http:
        pending = http.get("/v2/images", params={"name": "events-outage-renamed"}).json()["images"]
        assert [image["id"] for image in pending] == [target]
    bus.proxy.resume()

    for collector in (bus.reader, bus.admin):
        _wait_for(
            lambda c=collector: (
                {_subject(e.payload) for e in c.unique() if e.event_type == "image.create"} >= set(created)
            ),
            f"every image.create on {collector.topic}",
            bus.server,
        )
        _wait_for(
            lambda c=collector: any(e.event_type == "image.update" for e in c.about(target)),
            f"the target's image.update on {collector.topic}",
            bus.server,
        )
        creates = [e for e in collector.unique() if e.event_type == "image.create" and _subject(e.payload) in created]
        assert sorted(_subject(e.payload) for e in creates) == sorted(created)  # each once per message id
        assert [_subject(e.payload) for e in creates] == created  # in the order they were made
        about_target = [e.event_type for e in collector.about(target)]
        assert about_target == ["image.create", "image.update"]  # nothing for the refused changes
        renamed_event = next(e for e in collector.about(target) if e.event_type == "image.update")
        assert renamed_event.payload["name"] == "events-outage-renamed"


SEND_AND_EXIT = """
import asyncio, sys
from datetime import datetime
from glimpse.domain.outbox import OutboxMessage
from glimpse.events.notifier import NotifierSink
from glimpse.settings import load_settings

settings = load_settings(env={}, data_dir=sys.argv[1], notification_driver=["messagingv2"],
                         notification_topics=[sys.argv[2]], notification_transport_url=sys.argv[3])
sink = NotifierSink(settings, None)
message = OutboxMessage(id="m", topic="image.create", created_at=datetime(2026, 1, 1), payload={"payload": {}})

async def main():
    assert await sink.deliver_batch([message]) == (1, None)

asyncio.run(main())
sink.close()
print("sent")
"""


def test_a_process_that_sent_notifications_exits(tmp_path: Path) -> None:
    """oslo.messaging's connection threads must not keep a stopping `glimpse worker` (or any process) alive."""
    topic = f"glimpse_e2e_exit_{uuid.uuid4().hex[:8]}"
    try:
        done = subprocess.run(
            [sys.executable, "-c", SEND_AND_EXIT, str(tmp_path), topic, RABBIT_URL],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        _delete_queues([topic])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "sent"


def test_metadef_changes_send_glances_metadef_events(bus: Bus) -> None:
    ns = f"OS::Glimpse::Events{uuid.uuid4().hex[:8]}"
    with _http(bus, "admin") as http:
        assert http.post("/v2/metadefs/namespaces", json={"namespace": ns, "visibility": "public"}).status_code == 201
        assert http.post(f"/v2/metadefs/namespaces/{ns}/tags/color").status_code == 201
        assert http.post(f"/v2/metadefs/namespaces/{ns}/objects", json={"name": "flavor"}).status_code == 201
        linked = http.post(
            f"/v2/metadefs/namespaces/{ns}/resource_types", json={"name": "OS::Glance::Image", "prefix": "ev_"}
        )
        assert linked.status_code == 201, linked.text
        updated = http.put(f"/v2/metadefs/namespaces/{ns}", json={"namespace": ns, "display_name": "Events"})
        assert updated.status_code == 200, updated.text
        assert http.delete(f"/v2/metadefs/namespaces/{ns}/tags/color").status_code == 204
        assert http.delete(f"/v2/metadefs/namespaces/{ns}").status_code == 204
    expected = [
        "metadef_namespace.create",
        "metadef_tag.create",
        "metadef_object.create",
        "metadef_resource_type.create",
        "metadef_namespace.update",
        "metadef_tag.delete",
        "metadef_namespace.delete",
    ]

    def about_ns() -> list[Received]:
        return [e for e in bus.reader.unique() if isinstance(e.payload, dict) and e.payload.get("namespace") == ns]

    _wait_for(lambda: len(about_ns()) >= len(expected), "the metadef events", bus.server)
    events = about_ns()
    assert [e.event_type for e in events] == expected
    assert events[3].payload["prefix"] == "ev_"
    update = events[4].payload
    assert update["display_name"] == "Events"
    assert update["namespace_old"] == ns
    assert events[1].payload["name"] == "color"
    assert events[-1].payload["deleted"] is True
