"""Recording events: in the caller's transaction, through the outbox, unless disabled."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, Protocol

Priority = Literal["INFO", "WARN", "ERROR"]


class Recorder(Protocol):
    """The outbox (``services/outbox.py``): records a message in the caller's transaction."""

    def record(self, session: Any, topic: str, payload: dict[str, Any]) -> Any: ...


def is_disabled(event_type: str, disabled: Iterable[str]) -> bool:
    """Glance's ``disabled_notifications``: an entry names an event (``image.create``) or a group of them
    (``image``, ``image.member``, ``metadef_tag``): every event under that name."""
    return any(event_type == entry or event_type.startswith(entry + ".") for entry in disabled)


class Events:
    """What services call to say that something happened: ``emit`` inside the unit of work of the change.

    With no recorder (no notification driver, nothing else listening) emitting costs nothing."""

    def __init__(self, recorder: Recorder | None, disabled: Iterable[str] = ()) -> None:
        self.recorder = recorder
        self.disabled = tuple(entry.strip() for entry in disabled if entry.strip())

    @property
    def on(self) -> bool:
        return self.recorder is not None

    def enabled(self, event_type: str) -> bool:
        return self.recorder is not None and not is_disabled(event_type, self.disabled)

    def emit(self, session: Any, event_type: str, payload: Any, priority: Priority = "INFO") -> None:
        if self.recorder is None or not self.enabled(event_type):
            return
        self.recorder.record(session, event_type, {"priority": priority, "payload": payload})


NO_EVENTS = Events(None)
"""Emits nothing: the default of services built without events (tests, tools)."""
