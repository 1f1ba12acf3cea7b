"""vhd (a ``conectix`` footer at the end, copied at 0 in dynamic disks) and vhdx (``vhdxfile`` at 0)."""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

from glimpse.domain.formats.model import (
    SECTOR,
    WINDOW_SIZE,
    Data,
    Findings,
    Format,
    KiB,
    MiB,
    ProblemKind,
)

# -- vhd ------------------------------------------------------------------------------------------------------
_VHD_FOOTER = struct.Struct(">8sIIQI4sI4sQQIII")  # up to the checksum
VHD_COOKIE = b"conectix"
_VHD_FIXED, _VHD_DYNAMIC, _VHD_DIFFERENCING = 2, 3, 4
_VHD_DYNAMIC_HEADER = struct.Struct(">8sQQIIII")  # the start of the 1024-byte dynamic disk header
_VHD_DYNAMIC_HEADER_SIZE = 1024
_VHD_UNUSED_OFFSET = 0xFFFFFFFFFFFFFFFF


@dataclass(frozen=True, slots=True)
class _VhdFooter:
    version: int
    data_offset: int
    current_size: int
    disk_type: int
    checksum_ok: bool


def _vhd_footer(raw: bytes) -> _VhdFooter:
    (_, _, version, data_offset, _, _, _, _, _, current_size, _, disk_type, checksum) = _VHD_FOOTER.unpack(
        raw[: _VHD_FOOTER.size]
    )
    expected = ~(sum(raw[:64]) + sum(raw[68:SECTOR])) & 0xFFFFFFFF
    return _VhdFooter(version, data_offset, current_size, disk_type, checksum == expected)


def _vhd_tail(tail: bytes) -> _VhdFooter | None:
    """The footer at the end of the data, if the tail is one (cookie and checksum both right)."""
    if len(tail) < SECTOR or not tail.startswith(VHD_COOKIE):
        return None
    footer = _vhd_footer(tail[-SECTOR:])
    return footer if footer.checksum_ok else None


def analyse_vhd(data: Data, out: Findings) -> None:
    footer = _vhd_footer(data.read(0, SECTOR))
    if not footer.checksum_ok:
        out.add(ProblemKind.MALFORMED, "vhd footer checksum does not match")
        return
    if footer.version >> 16 != 1:
        out.add(ProblemKind.MALFORMED, f"vhd footer has unsupported version {footer.version:#x}")
        return
    if footer.disk_type not in (_VHD_DYNAMIC, _VHD_DIFFERENCING):
        out.add(ProblemKind.MALFORMED, f"vhd footer copy at the start has disk type {footer.disk_type}, not dynamic")
        return
    out.size(footer.current_size, "vhd")
    out.subformat = "dynamic" if footer.disk_type == _VHD_DYNAMIC else "differencing"
    if footer.disk_type == _VHD_DIFFERENCING:
        out.add(ProblemKind.BACKING_FILE, "vhd image is a differencing disk of a parent image")
    if footer.data_offset == _VHD_UNUSED_OFFSET:
        out.add(ProblemKind.MALFORMED, "dynamic vhd has no dynamic disk header")
        return
    header = data.read(footer.data_offset, _VHD_DYNAMIC_HEADER_SIZE)
    cookie, _, _, version, _, block_size, _ = _VHD_DYNAMIC_HEADER.unpack(header[: _VHD_DYNAMIC_HEADER.size])
    if cookie != b"cxsparse" or version >> 16 != 1 or block_size == 0 or block_size & (block_size - 1):
        out.add(ProblemKind.MALFORMED, "dynamic vhd has an invalid dynamic disk header")


def vhd_with_tail(tail: bytes, fmt: Format, signatures: list[Format], data: Data, out: Findings) -> Format:
    """Fold the footer at the end of the data into what the start said; return the format."""
    footer = _vhd_tail(tail)
    if fmt is Format.VHD:
        if footer is None:
            out.add(ProblemKind.MALFORMED, "dynamic vhd does not end with its footer")
        elif len(data.prefix) >= SECTOR:
            copy = _vhd_footer(data.prefix[:SECTOR])
            if (footer.disk_type, footer.current_size) != (copy.disk_type, copy.current_size):
                out.add(ProblemKind.MALFORMED, "vhd footer at the end differs from its copy at the start")
        return fmt
    if footer is None:
        return fmt
    signatures.append(Format.VHD)
    if fmt is not Format.RAW:
        return fmt
    if footer.disk_type != _VHD_FIXED:
        out.add(ProblemKind.MALFORMED, "vhd footer describes a dynamic disk but the data does not start with its copy")
    elif footer.version >> 16 != 1:
        out.add(ProblemKind.MALFORMED, f"vhd footer has unsupported version {footer.version:#x}")
    else:
        out.subformat = "fixed"
        out.size(footer.current_size, "vhd")
    return Format.VHD


# -- vhdx -----------------------------------------------------------------------------------------------------
VHDX_SIGNATURE = b"vhdxfile"
_VHDX_HEADERS = (64 * KiB, 128 * KiB)
_VHDX_REGION_TABLES = (192 * KiB, 256 * KiB)
_VHDX_REGION_BAT = uuid.UUID("2dc27766-f623-4200-9d64-115e9bfd4a08")
_VHDX_REGION_METADATA = uuid.UUID("8b7ca206-4790-4b9a-b8fe-575f050f886e")
_VHDX_FILE_PARAMETERS = uuid.UUID("caa16737-fa36-4d43-b3b6-33f0aa44e76b")
_VHDX_VIRTUAL_DISK_SIZE = uuid.UUID("2fa54224-cd1b-4876-b211-5dbed83bf4b8")
_VHDX_PAGE_83 = uuid.UUID("beca12ab-b2e6-4523-93ef-c309e000c746")
_VHDX_LOGICAL_SECTOR = uuid.UUID("8141bf1d-a96f-4709-ba47-f233a8faab5f")
_VHDX_PHYSICAL_SECTOR = uuid.UUID("cda348c7-445d-4471-9cc9-e9885251c556")
_VHDX_PARENT_LOCATOR = uuid.UUID("a8d35f2d-b30b-454d-abf7-d3d84834ab0c")
_VHDX_KNOWN_ITEMS = {
    _VHDX_FILE_PARAMETERS, _VHDX_VIRTUAL_DISK_SIZE, _VHDX_PAGE_83, _VHDX_LOGICAL_SECTOR, _VHDX_PHYSICAL_SECTOR,
    _VHDX_PARENT_LOCATOR,
}  # fmt: skip
_VHDX_MAX_ENTRIES = 2047
_VHDX_ITEM_REQUIRED = 4
_VHDX_HAS_PARENT = 2
_VHDX_LEAVE_BLOCKS_ALLOCATED = 1


def analyse_vhdx(data: Data, out: Findings) -> None:
    headers = [raw for raw in (data.read(offset, 80) for offset in _VHDX_HEADERS) if raw.startswith(b"head")]
    if not headers:
        out.add(ProblemKind.MALFORMED, "vhdx file has no valid header")
        return
    for raw in headers:
        log_version, version = struct.unpack("<HH", raw[64:68])
        if version != 1 or log_version != 0:
            out.add(ProblemKind.MALFORMED, f"vhdx header has unsupported version {version}")
            return
        if any(raw[48:64]):  # the log GUID: set while the log holds updates to replay
            out.add(ProblemKind.UNSUPPORTED, "vhdx image has a pending log (it was not closed cleanly)")
            return
    tables = []
    for offset in _VHDX_REGION_TABLES:
        signature, _, count, _ = struct.unpack("<4sIII", data.read(offset, 16))
        if signature == b"regi" and count <= _VHDX_MAX_ENTRIES:
            tables.append(data.read(offset + 16, 32 * count))
    if not tables or any(table != tables[0] for table in tables):
        out.add(ProblemKind.MALFORMED, "vhdx region tables are missing or disagree")
        return
    metadata: tuple[int, int] | None = None
    for entry in (tables[0][i : i + 32] for i in range(0, len(tables[0]), 32)):
        guid = uuid.UUID(bytes_le=entry[:16])
        offset, length, required = struct.unpack("<QII", entry[16:])
        if guid == _VHDX_REGION_METADATA:
            metadata = (offset, length)
        elif guid != _VHDX_REGION_BAT and required & 1:
            out.add(ProblemKind.UNKNOWN_FEATURE, f"vhdx image requires an unknown region {guid}")
    if metadata is None or metadata[0] % MiB or metadata[1] < 64 * KiB:
        out.add(ProblemKind.MALFORMED, "vhdx image has no valid metadata region")
        return
    _vhdx_metadata(data.read(metadata[0], min(metadata[1], WINDOW_SIZE)), metadata[1], out)


def _vhdx_metadata(region: bytes, length: int, out: Findings) -> None:
    signature, _, count = struct.unpack("<8sHH", region[:12])
    if signature != b"metadata" or count > _VHDX_MAX_ENTRIES:
        out.add(ProblemKind.MALFORMED, "vhdx metadata table is missing")
        return
    items: dict[uuid.UUID, bytes] = {}
    for i in range(count):
        entry = region[32 + 32 * i : 64 + 32 * i]
        guid = uuid.UUID(bytes_le=entry[:16])
        offset, size, flags = struct.unpack("<III", entry[16:28])
        if offset + size > len(region):
            kind = ProblemKind.UNINSPECTABLE if len(region) < length else ProblemKind.MALFORMED
            out.add(kind, f"vhdx metadata item {guid} lies outside the inspected metadata region")
            return
        items[guid] = region[offset : offset + size]
        if guid not in _VHDX_KNOWN_ITEMS and flags & _VHDX_ITEM_REQUIRED:
            out.add(ProblemKind.UNKNOWN_FEATURE, f"vhdx image requires an unknown metadata item {guid}")
    parameters, disk_size = items.get(_VHDX_FILE_PARAMETERS), items.get(_VHDX_VIRTUAL_DISK_SIZE)
    if parameters is None or len(parameters) < 8 or disk_size is None or len(disk_size) < 8:
        out.add(ProblemKind.MALFORMED, "vhdx metadata lacks the file parameters or the virtual disk size")
        return
    (bits,) = struct.unpack("<I", parameters[4:8])
    out.subformat = "fixed" if bits & _VHDX_LEAVE_BLOCKS_ALLOCATED else "dynamic"
    if bits & _VHDX_HAS_PARENT or _VHDX_PARENT_LOCATOR in items:
        out.subformat = "differencing"
        out.add(ProblemKind.BACKING_FILE, "vhdx image is a differencing disk of a parent image")
    out.size(struct.unpack("<Q", disk_size[:8])[0], "vhdx")
