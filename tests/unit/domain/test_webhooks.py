"""glimpse.domain.webhooks: event filters, backoff, secrets and Standard Webhooks signatures, CloudEvents."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

import pytest

from glimpse.domain.webhooks import (
    SECRET_PREFIX,
    Webhook,
    WebhookStatus,
    backoff,
    cloudevent,
    delivery_id,
    matches,
    new_secret,
    parse_filters,
    sign,
    verify,
)
from glimpse.errors import BadRequest

NOW = datetime(2026, 12, 6, 5, 0, 0, 123456)


@pytest.mark.parametrize(
    ("event", "filters", "expected"),
    [
        ("image.create", ["*"], True),
        ("image.create", ["image"], True),
        ("image.member.create", ["image"], True),
        ("image.member.create", ["image.member"], True),
        ("image.create", ["image.member"], False),
        ("image.create", ["image.create"], True),
        ("image.created", ["image.create"], False),
        ("imagex.create", ["image"], False),
        ("task.success", ["image", "task"], True),
    ],
)
def test_filters_name_events_groups_or_everything(event: str, filters: list[str], expected: bool) -> None:
    assert matches(event, filters) is expected


def test_parse_filters() -> None:
    assert parse_filters(None) == ("*",)
    assert parse_filters([" image ", "image", "task.success"]) == ("image", "task.success")
    for bad in ([], "image", [""], [3], ["a b"], ["x"] * 33):
        with pytest.raises(BadRequest):
            parse_filters(bad)


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff(n, 2.0, 20.0).total_seconds() for n in range(1, 6)] == [2.0, 4.0, 8.0, 16.0, 20.0]


def test_signatures_are_standard_webhooks_hmac_sha256() -> None:
    secret = new_secret()
    assert secret.startswith(SECRET_PREFIX)
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    assert len(key) == 32
    body = b'{"a":1}'
    expected = base64.b64encode(hmac.new(key, b"msg_1.1700000000." + body, hashlib.sha256).digest()).decode()
    assert sign(secret, "msg_1", 1700000000, body) == f"v1,{expected}"
    headers = {"webhook-id": "msg_1", "webhook-timestamp": "1700000000", "webhook-signature": f"v1,{expected}"}
    assert verify(secret, headers, body)
    assert not verify(secret, headers, body + b" ")
    assert not verify(new_secret(), headers, body)
    assert not verify(secret, {**headers, "webhook-id": "msg_2"}, body)
    assert new_secret() != secret


def test_cloudevents_structured_json() -> None:
    event = cloudevent("e1", "image.create", "urn:glimpse:image.host", NOW, {"id": "i1", "name": "x"})
    assert event == {
        "specversion": "1.0", "id": "e1", "source": "urn:glimpse:image.host",
        "type": "org.openstack.glance.image.create",
        "time": "2026-12-06T05:00:00.123456Z", "datacontenttype": "application/json", "subject": "i1",
        "data": {"id": "i1", "name": "x"},
    }  # fmt: skip
    member = cloudevent("e2", "image.member.create", "s", NOW, {"image_id": "i1", "member_id": "p"})
    assert member["subject"] == "i1"
    assert "subject" not in cloudevent("e3", "image.send", "s", NOW, {"bytes_sent": 3})


def test_a_webhook_wants_its_projects_events_while_active() -> None:
    hook = Webhook(
        id="w", project_id="alpha", url="http://x", events=("image",), secret="s", audience=("member",),
        description="", status=WebhookStatus.ACTIVE, failures=0, disabled_reason=None, created_at=NOW,
        updated_at=NOW + timedelta(seconds=1),
    )  # fmt: skip
    assert hook.wants("image.create", "alpha")
    assert not hook.wants("image.create", "beta")
    assert not hook.wants("task.create", "alpha")
    every = Webhook(**{**{f: getattr(hook, f) for f in hook.__slots__}, "project_id": None})
    assert every.wants("image.create", "beta")
    assert every.wants("image.create", None)
    off = Webhook(**{**{f: getattr(hook, f) for f in hook.__slots__}, "status": WebhookStatus.DISABLED})
    assert not off.wants("image.create", "alpha")


def test_a_delivery_id_is_derived_from_the_event_and_the_webhook() -> None:
    assert delivery_id("e1", "w1") == delivery_id("e1", "w1")  # the same whichever drain sends it
    assert len({delivery_id("e1", "w1"), delivery_id("e1", "w2"), delivery_id("e2", "w1")}) == 3
    assert len(delivery_id("e1", "w1")) == 36  # a UUID, as every other id
