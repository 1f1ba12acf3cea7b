"""Recording events: in the caller's transaction, through the outbox, unless disabled."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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

    def emit(
        self, session: Any, event_type: str, payload: Any, priority: Priority = "INFO", *, project: str | None = None
    ) -> None:
        """Record ``event_type``; ``project`` is the project whose resource it is about (its webhooks get it),
        when the payload does not say (an image's ``owner``, a download's ``owner_id``)."""
        if self.recorder is None or not self.enabled(event_type):
            return
        message: dict[str, Any] = {"priority": priority, "payload": payload}
        if project is not None:
            message["project"] = project
        self.recorder.record(session, event_type, message)


def project_of(message: Mapping[str, Any]) -> str | None:
    """The project an outbox event is about: the one ``emit`` was told, else its payload's owner."""
    project = message.get("project")
    payload = message.get("payload")
    if project is None and isinstance(payload, Mapping):
        project = payload.get("owner") or payload.get("owner_id")
    return project if isinstance(project, str) else None


NO_EVENTS = Events(None)
"""Emits nothing: the default of services built without events (tests, tools)."""
