"""Format inspection as a stage: the bounded prefix (and the last bytes) of the stream go to the domain's
``FormatInspector``; ``verdict`` applies the rules of ``domain.formats.decide`` once the stream has ended."""

from __future__ import annotations

from collections.abc import Mapping

from glimpse.domain.formats import TAIL_SIZE, FormatInspector, Inspection, decide, expects_encryption


class Inspect:
    def __init__(self) -> None:
        self.inspector = FormatInspector()
        self._tail = b""

    def feed(self, block: memoryview) -> None:
        if not self.inspector.done:
            self.inspector.feed(block)
        if len(block) >= TAIL_SIZE:
            self._tail = bytes(block[-TAIL_SIZE:])
        else:
            self._tail = (self._tail + bytes(block))[-TAIL_SIZE:]

    def result(self) -> Inspection:
        self.inspector.feed_tail(self._tail)
        return self.inspector.result()


def verdict(
    inspection: Inspection | None,
    *,
    disk_format: str | None,
    size: int,
    properties: Mapping[str, str],
    max_virtual_size: int,
    require_match: bool,
) -> int | None:
    """The virtual size to record for data that may be kept; ImageFormatError (a 415 on upload) when not.
    ``inspection`` is None when the stream was not inspected (a container other than ``bare``)."""
    if inspection is None:
        return None
    return decide(
        inspection,
        disk_format or "raw",
        size=size,
        max_virtual_size=max_virtual_size,
        allow_encrypted=expects_encryption(properties),
        require_match=require_match,
    )
