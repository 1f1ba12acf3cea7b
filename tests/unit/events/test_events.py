"""glimpse.events without a broker: which events are disabled, Glance's payload keys, what each topic's
audience sees (property protections, never locations), stable message ids, and an event recorded in a
transaction that rolls back is never sent."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from glimpse.container import Services, build_services
from glimpse.db.repositories.outbox import OutboxRepository
from glimpse.domain.images import Image, Location, Member, MemberStatus, Status, Visibility
from glimpse.domain.outbox import OutboxMessage
from glimpse.errors import Conflict
from glimpse.events import Events, payloads
from glimpse.events.emit import is_disabled
from glimpse.events.notifier import NotifierSink, message_id
from glimpse.policy import Policy, PropertyProtections
from glimpse.policy.protections import parse
from glimpse.settings import Settings, load_settings

WHEN = datetime(2026, 12, 6, 2, 10, 11, 123456)
PROTECTIONS = """\
[^secret_]
create = admin
read = admin
update = admin
delete = admin

[.*]
create = @
read = @
update = @
delete = @
"""


def _image() -> Image:
    return Image(
        id="i1", owner="alpha", created_at=WHEN, updated_at=WHEN, name="cirros", status=Status.ACTIVE,
        visibility=Visibility.PUBLIC, disk_format="raw", container_format="bare", size=3, checksum="c",
        tags={"b", "a"}, properties={"os_distro": "cirros", "secret_note": "s3cr3t"},
        locations=[Location(url="swift+https://user:key@swift/v1/c/i1", store="swift")],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("event", "disabled", "expected"),
    [
        ("image.create", ["image.create"], True),
        ("image.create", ["image"], True),
        ("image.member.create", ["image.member"], True),
        ("image.member.create", ["image"], True),
        ("image.create", ["image.member"], False),
        ("task.success", ["image"], False),
        ("metadef_tag.create", ["metadef_tag"], True),
        ("image.created", ["image.create"], False),
    ],
)
def test_disabled_notifications_name_events_or_groups(event: str, disabled: list[str], expected: bool) -> None:
    assert is_disabled(event, disabled) is expected


def test_image_payload_has_glances_keys_and_no_locations() -> None:
    payload = payloads.image(_image())
    assert set(payload) == {
        "id", "name", "status", "created_at", "updated_at", "min_disk", "min_ram", "protected", "checksum",
        "owner", "disk_format", "container_format", "size", "virtual_size", "is_public", "visibility",
        "properties", "tags", "deleted", "deleted_at",
    }  # fmt: skip
    assert payload["created_at"] == "2026-12-06T02:10:11Z"
    assert payload["is_public"] is True
    assert payload["tags"] == ["a", "b"]
    assert "swift" not in str(payload)
    deleted = payloads.image(_image(), deleted=True)
    assert deleted["deleted"] is True
    assert deleted["deleted_at"].endswith("Z")
    data = payloads.image_data(_image(), backend="fast")
    assert data["os_glance_importing_to_stores"] == []
    assert data["backend"] == "fast"
    member = payloads.member(Member("i1", "beta", MemberStatus.PENDING, WHEN, WHEN))
    assert member == {
        "image_id": "i1", "member_id": "beta", "status": "pending", "created_at": "2026-12-06T02:10:11Z",
        "updated_at": "2026-12-06T02:10:11Z", "deleted": False, "deleted_at": None,
    }  # fmt: skip


def _sink(tmp_path: Path, audience: dict[str, list[str]], protected: bool = True) -> NotifierSink:
    settings = load_settings(
        env={}, data_dir=tmp_path, auth="noauth", notification_driver=["messagingv2"],
        notification_topics=["notifications", "notifications_admin", "glance_compat"],
        notification_audience=audience, default_publisher_id="image.testhost",
    )  # fmt: skip
    protections = PropertyProtections(parse(PROTECTIONS, "roles"), "roles", Policy()) if protected else None
    return NotifierSink(settings, protections)


def test_each_topic_sees_what_its_audience_may_read(tmp_path: Path) -> None:
    sink = _sink(tmp_path, {"notifications_admin": ["admin"], "glance_compat": ["*"]})
    payload = payloads.image(_image())
    payload["locations"] = [{"url": "swift+https://user:key@swift/v1/c/i1"}]  # never sent, whoever put it there
    message = OutboxMessage(
        id="m1", topic="image.update", created_at=WHEN, payload={"priority": "INFO", "payload": payload}
    )
    sent = {topic: body for topic, _, body in sink.messages(message)}
    assert set(sent) == {"notifications", "notifications_admin", "glance_compat"}
    assert sent["notifications"]["payload"]["properties"] == {"os_distro": "cirros"}  # unlisted: reader
    assert sent["notifications_admin"]["payload"]["properties"] == {"os_distro": "cirros", "secret_note": "s3cr3t"}
    assert sent["glance_compat"]["payload"]["properties"] == {"os_distro": "cirros", "secret_note": "s3cr3t"}
    for body in sent.values():
        assert "locations" not in body["payload"]
        assert "user:key" not in str(body)
        assert body["publisher_id"] == "image.testhost"
        assert body["event_type"] == "image.update"
        assert body["priority"] == "INFO"
        assert body["timestamp"] == "2026-12-06 02:10:11.123456"
    # one id per message and topic, the same on every try
    again = {topic: body["message_id"] for topic, _, body in sink.messages(message)}
    assert again == {topic: body["message_id"] for topic, body in sent.items()}
    assert again["notifications"] == message_id("m1", "notifications") != again["notifications_admin"]


def test_without_protections_every_audience_sees_every_property(tmp_path: Path) -> None:
    sink = _sink(tmp_path, {}, protected=False)
    message = OutboxMessage(
        id="m2",
        topic="image.create",
        created_at=WHEN,
        payload={"priority": "INFO", "payload": payloads.image(_image())},
    )
    for _, _, body in sink.messages(message):
        assert set(body["payload"]["properties"]) == {"os_distro", "secret_note"}


def test_unknown_driver_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsupported notification driver"):
        load_settings(env={}, data_dir=tmp_path, notification_driver=["carrier-pigeon"])


def test_ini_options(tmp_path: Path) -> None:
    config = tmp_path / "glimpse.conf"
    config.write_text(
        "[DEFAULT]\ndisabled_notifications = image.send, task\n"
        "[oslo_messaging_notifications]\ndriver = messagingv2\ntopics = notifications, notifications_admin\n"
        "transport_url = rabbit://guest:topsecret@127.0.0.1:5672/\nretry = 3\n"
        "[notification_audience]\nnotifications = reader\nnotifications_admin = admin, service\n"
    )
    settings = load_settings(config, env={}, data_dir=tmp_path)
    assert settings.disabled_notifications == ["image.send", "task"]
    assert settings.notification_driver == ["messagingv2"]
    assert settings.notification_retry == 3
    assert settings.notification_audience == {"notifications": ["reader"], "notifications_admin": ["admin", "service"]}
    assert "topsecret" in settings.secrets()
    assert "topsecret" not in str(settings.masked())


@pytest.fixture
def evented(settings: Settings) -> Services:
    return build_services(settings.model_copy(update={"notification_driver": ["messagingv2"]}))


def test_an_event_of_a_rolled_back_change_is_never_recorded(evented: Services) -> None:
    events: Events = evented.events
    assert events.on

    def change(session: object) -> None:
        events.emit(session, "image.create", payloads.image(_image()))
        raise Conflict("refused after the event was emitted")

    with pytest.raises(Conflict):
        evented.db.run_sync(change)
    evented.db.run_sync(lambda s: events.emit(s, "image.update", payloads.image(_image())))
    evented.db.run_sync(lambda s: events.emit(s, "task.success", {}))
    disabled = Events(evented.outbox, ["image.update"])
    evented.db.run_sync(lambda s: disabled.emit(s, "image.update", {}))
    recorded = evented.db.run_sync(lambda s: OutboxRepository(s).undelivered(10))
    assert [m.topic for m in recorded] == ["image.update", "task.success"]
    evented.close()
