"""qcow2: header at 0, magic ``QFI\\xfb``, big-endian; versions 2 and 3; header extensions follow it."""

from __future__ import annotations

import struct

from glimpse.domain.formats.model import (
    Data,
    Findings,
    ProblemKind,
    quoted,
)

# -- qcow2 ----------------------------------------------------------------------------------------------------
_QCOW2 = struct.Struct(">4sIQIIQIIQQIIQ")  # the 72-byte version 2 header
_QCOW2_V3 = struct.Struct(">QQQII")  # features, refcount order, header length
QCOW2_MAGIC = b"QFI\xfb"
_QCOW2_DIRTY, _QCOW2_CORRUPT, _QCOW2_DATA_FILE, _QCOW2_COMPRESSION, _QCOW2_EXTENDED_L2 = (1 << n for n in range(5))
_QCOW2_KNOWN_INCOMPATIBLE = _QCOW2_DIRTY | _QCOW2_CORRUPT | _QCOW2_DATA_FILE | _QCOW2_COMPRESSION | _QCOW2_EXTENDED_L2
_QCOW2_EXT_END = 0
_QCOW2_EXT_DATA_FILE = 0x44415441
_QCOW2_MAX_EXTENSIONS = 1024
_QCOW2_CRYPT = {0: None, 1: "AES", 2: "LUKS"}


def analyse_qcow2(data: Data, out: Findings) -> None:
    (_, version, backing_offset, backing_size, cluster_bits, size, crypt, *_) = _QCOW2.unpack(data.read(0, _QCOW2.size))
    if version not in (2, 3):
        out.add(ProblemKind.MALFORMED, f"qcow2 header has unsupported version {version}")
        return
    subformat = f"v{version}"
    if not 9 <= cluster_bits <= 21:
        out.add(ProblemKind.MALFORMED, f"qcow2 header has an invalid cluster size (2^{cluster_bits} bytes)")
        return
    out.size(size, "qcow2")
    if crypt not in _QCOW2_CRYPT:
        out.add(ProblemKind.MALFORMED, f"qcow2 header has unknown encryption method {crypt}")
    elif crypt:
        out.encrypted = True
        subformat += f"+{_QCOW2_CRYPT[crypt]}".lower()
    out.subformat = subformat
    if backing_offset:
        name = data.peek(backing_offset, min(backing_size, 1023))
        shown = f" {quoted(name)}" if name else ""
        out.add(ProblemKind.BACKING_FILE, f"qcow2 image has a backing file{shown}")
    header_length = 72
    if version == 3:
        incompatible, _, _, refcount_order, header_length = _QCOW2_V3.unpack(data.read(72, _QCOW2_V3.size))
        if header_length < 104 or header_length % 8:
            out.add(ProblemKind.MALFORMED, f"qcow2 header has an invalid header length {header_length}")
            return
        if refcount_order > 6:
            out.add(ProblemKind.MALFORMED, f"qcow2 header has an invalid refcount order {refcount_order}")
        if incompatible & _QCOW2_CORRUPT:
            out.add(ProblemKind.MALFORMED, "qcow2 image is marked corrupt")
        if incompatible & _QCOW2_DATA_FILE:
            out.add(ProblemKind.DATA_FILE, "qcow2 image keeps its data in an external data file")
        if unknown := incompatible & ~_QCOW2_KNOWN_INCOMPATIBLE:
            out.add(ProblemKind.UNKNOWN_FEATURE, f"qcow2 image uses unknown incompatible features {unknown:#x}")
    cluster = 1 << cluster_bits
    _qcow2_extensions(data, out, header_length, end=min(backing_offset, cluster) if backing_offset else cluster)


def _qcow2_extensions(data: Data, out: Findings, offset: int, end: int) -> None:
    for _ in range(_QCOW2_MAX_EXTENSIONS):
        if offset + 8 > end:
            return
        kind, length = struct.unpack(">II", data.read(offset, 8))
        if kind == _QCOW2_EXT_END:
            return
        if offset + 8 + length > end:
            out.add(ProblemKind.MALFORMED, f"qcow2 header extension {kind:#x} runs past the header")
            return
        if kind == _QCOW2_EXT_DATA_FILE and not any(p.kind is ProblemKind.DATA_FILE for p in out.problems):
            name = quoted(data.read(offset + 8, length))
            out.add(ProblemKind.DATA_FILE, f"qcow2 image names an external data file {name}")
        offset += 8 + (length + 7) // 8 * 8
    out.add(ProblemKind.MALFORMED, "qcow2 header has too many header extensions")
