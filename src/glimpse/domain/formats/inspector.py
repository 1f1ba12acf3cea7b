"""The streaming inspector: which formats the data is signed as, and the one analyser that reads it."""

from __future__ import annotations

from collections.abc import Callable

from glimpse.domain.formats.model import (
    PREFIX_SIZE,
    TAIL_SIZE,
    WINDOW_REACH,
    WINDOW_SIZE,
    Data,
    Findings,
    Format,
    Inspection,
    MissingData,
    ProblemKind,
)
from glimpse.domain.formats.others import (
    ISO_FIRST,
    ISO_IDENTIFIERS,
    PLOOP_SIGNATURES,
    VDI_SIGNATURE,
    analyse_iso,
    analyse_ploop,
    analyse_qed,
    analyse_raw,
    analyse_vdi,
)
from glimpse.domain.formats.qcow2 import QCOW2_MAGIC, analyse_qcow2
from glimpse.domain.formats.vhd import VHD_COOKIE, VHDX_SIGNATURE, analyse_vhd, analyse_vhdx, vhd_with_tail
from glimpse.domain.formats.vmdk import analyse_vmdk, looks_like_vmdk_descriptor

_ANALYSERS: dict[Format, Callable[[Data, Findings], None]] = {
    Format.RAW: analyse_raw, Format.QCOW2: analyse_qcow2, Format.VMDK: analyse_vmdk, Format.VHD: analyse_vhd,
    Format.VHDX: analyse_vhdx, Format.VDI: analyse_vdi, Format.ISO: analyse_iso, Format.PLOOP: analyse_ploop,
    Format.QED: analyse_qed,
}  # fmt: skip


def _identify(head: bytes) -> list[Format]:
    """Every format whose signature the start of the data carries, those at offset 0 first."""
    found = []
    if head.startswith(QCOW2_MAGIC):
        found.append(Format.QCOW2)
    if head.startswith((b"KDMV", b"COWD")) or looks_like_vmdk_descriptor(head):
        found.append(Format.VMDK)
    if head.startswith(VHD_COOKIE):
        found.append(Format.VHD)
    if head.startswith(VHDX_SIGNATURE):
        found.append(Format.VHDX)
    if head[64:68] == VDI_SIGNATURE:
        found.append(Format.VDI)
    if head.startswith(PLOOP_SIGNATURES):
        found.append(Format.PLOOP)
    if head.startswith(b"QED\0"):
        found.append(Format.QED)
    if head[ISO_FIRST + 1 : ISO_FIRST + 6] in ISO_IDENTIFIERS:
        found.append(Format.ISO)
    return found


def _analyse(data: Data) -> tuple[Format, list[Format], Findings, MissingData | None]:
    signatures = _identify(data.prefix)
    fmt = signatures[0] if signatures else Format.RAW
    out = Findings()
    try:
        _ANALYSERS[fmt](data, out)
    except MissingData as missing:
        return fmt, signatures, out, missing
    return fmt, signatures, out, None


# -- the inspector --------------------------------------------------------------------------------------------
class FormatInspector:
    """Fed the image stream in order, keeps only what the headers need (see ``MEMORY_BOUND``).

    Call ``feed`` with each chunk, optionally ``feed_tail`` with the last bytes of the stream, then
    ``result`` once the stream has ended (or as soon as ``done``). ``feed`` after ``done`` returns at once.
    """

    def __init__(self) -> None:
        self._prefix = bytearray()
        self._seen = 0
        self._window = bytearray()
        self._window_start = 0
        self._window_end = 0
        self._tail: bytes | None = None
        self._done = False

    @property
    def done(self) -> bool:
        """True once the inspector holds everything it will look at: the rest of the stream is ignored."""
        return self._done

    @property
    def buffered(self) -> int:
        """Bytes held in memory, never more than ``MEMORY_BOUND``."""
        return len(self._prefix) + len(self._window) + len(self._tail or b"")

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        """The next bytes of the stream, in order."""
        if self._done:
            return
        start = self._seen
        self._seen += len(chunk)
        room = PREFIX_SIZE - len(self._prefix)
        if room > 0:
            self._prefix += chunk[:room]
            if len(self._prefix) < PREFIX_SIZE:
                return
            self._plan()
            if self._done:
                return
        wanted = self._window_start + len(self._window)
        low, high = max(start, wanted), min(self._seen, self._window_end)
        if high > low:
            self._window += chunk[low - start : high - start]
        if self._window_start + len(self._window) >= self._window_end:
            self._done = True

    def feed_tail(self, tail: bytes | bytearray | memoryview) -> None:
        """The last bytes of the whole stream (at least 512 for a VHD footer to be seen); only 512 are kept."""
        self._tail = bytes(tail[-TAIL_SIZE:])

    def _plan(self) -> None:
        """The prefix is full: decide whether one more window of the stream is needed, or nothing more."""
        *_, missing = _analyse(Data(bytes(self._prefix)))
        if missing is not None:
            end = missing.offset + missing.length
            if missing.length <= WINDOW_SIZE and end <= WINDOW_REACH:
                self._window_start, self._window_end = missing.offset, end
                self._window = bytearray(self._prefix[missing.offset : end])
                return
        self._done = True

    def result(self) -> Inspection:
        data = Data(bytes(self._prefix), self._window_start, bytes(self._window))
        fmt, signatures, out, missing = _analyse(data)
        if missing is not None:
            end = missing.offset + missing.length
            if not self._done and end > self._seen:
                out.add(
                    ProblemKind.TRUNCATED,
                    f"{fmt} data is truncated: its headers need {end} bytes but the data has {self._seen}",
                )
            else:
                out.add(
                    ProblemKind.UNINSPECTABLE,
                    f"{fmt} metadata at offset {missing.offset} lies beyond what can be inspected "
                    f"(the first {PREFIX_SIZE} bytes and one window of {WINDOW_SIZE} below {WINDOW_REACH})",
                )
        if self._tail is not None:
            fmt = vhd_with_tail(self._tail, fmt, signatures, data, out)
        if len(signatures) > 1:
            names = ", ".join(signatures)
            out.add(ProblemKind.POLYGLOT, f"image data is valid as more than one format ({names})")
        return Inspection(
            format=fmt,
            virtual_size=out.virtual_size,
            subformat=out.subformat,
            encrypted=out.encrypted,
            problems=tuple(out.problems),
            signatures=tuple(signatures),
            tail_inspected=self._tail is not None,
        )


def inspect_bytes(data: bytes | bytearray | memoryview) -> Inspection:
    """Inspect data held whole in memory, its start and its end (small blobs and tests)."""
    inspector = FormatInspector()
    inspector.feed(data)
    inspector.feed_tail(data)
    return inspector.result()
