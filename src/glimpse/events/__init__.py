"""Events about changes: Glance's notifications (oslo.messaging) built from the transactional outbox.

``Events.emit(session, event_type, payload)`` records an event in the caller's transaction (through the
outbox), unless the operator disabled it; ``payloads`` formats Glance's payloads; ``NotifierSink`` is the
outbox sink that sends each event to every notification topic, with the properties that topic's audience
may read (docs/notifications.md).
"""

from glimpse.events.emit import NO_EVENTS, Events

__all__ = ["NO_EVENTS", "Events"]
