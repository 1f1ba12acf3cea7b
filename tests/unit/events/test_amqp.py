"""glimpse.events.amqp: which URLs the batch publisher takes, and the bodies it sends (oslo.messaging's)."""

from __future__ import annotations

import json
import uuid

from glimpse.events.amqp import EXCHANGE, PROPERTIES, Broker, Publisher, body, brokers


def test_plain_rabbit_urls_are_taken_and_the_rest_left_to_oslo_messaging() -> None:
    assert brokers("rabbit://guest:guest@127.0.0.1:5672/") == [Broker("127.0.0.1", 5672, "guest", "guest", "/")]
    assert brokers("rabbit://u:p%40ss@a:5673,v:q@b/vhost") == [
        Broker("a", 5673, "u", "p@ss", "vhost"), Broker("b", 5672, "v", "q", "vhost")]  # fmt: skip
    assert brokers("rabbit://[::1]:5672/") == [Broker("::1", 5672, "guest", "guest", "/")]
    for other in ("rabbit://u:p@h:5671/?ssl=1", "kafka://h:9092", "amqp://u:p@h/", "rabbit:///", "rabbit://h:x/"):
        assert brokers(other) is None, other


def test_bodies_are_oslo_messagings() -> None:
    message = {"message_id": "m", "publisher_id": "image.h", "event_type": "image.create", "priority": "INFO",
               "payload": {"id": "i"}, "timestamp": "2026-12-06 05:00:00.000001"}  # fmt: skip
    v2 = json.loads(body(message, envelope=True))
    assert v2["oslo.version"] == "2.0"
    inner = json.loads(v2["oslo.message"])
    assert {k: v for k, v in inner.items() if k != "_unique_id"} == message
    assert len(inner["_unique_id"]) == 32
    v1 = json.loads(body(message, envelope=False))
    assert {k: v for k, v in v1.items() if k != "_unique_id"} == message
    assert v1["_unique_id"] != inner["_unique_id"]  # oslo makes one per send


def test_a_batch_arrives_as_basic_publish_sends_it() -> None:
    """The hand-packed frames of a batch (a body larger than a frame among them) are taken by the real broker
    and read back exactly as a message py-amqp's own ``basic_publish`` sent: body and properties."""
    import amqp

    queue = f"test_amqp.{uuid.uuid4().hex}.info"
    publisher = Publisher(brokers("rabbit://guest:guest@127.0.0.1:5672/") or [])
    connection = amqp.Connection("127.0.0.1:5672", userid="guest", password="guest")
    connection.connect()
    try:
        channel = connection.channel()
        big = json.dumps({"payload": "x" * (connection.frame_max * 2 + 17)})
        bodies = ['{"n": 1}', big, "", '{"n": "\u00e9t\u00e9"}']
        assert publisher.publish([(queue, text) for text in bodies]) == (len(bodies), None)
        channel.basic_publish(amqp.Message(bodies[0], **PROPERTIES), exchange=EXCHANGE, routing_key=queue)
        got = [channel.basic_get(queue, no_ack=True) for _ in range(len(bodies) + 1)]
        assert [message.body for message in got] == [*bodies, bodies[0]]
        assert all(message.properties == got[-1].properties for message in got)
        assert got[0].delivery_info["exchange"] == EXCHANGE
        channel.queue_delete(queue)
    finally:
        publisher.close()
        connection.close()
