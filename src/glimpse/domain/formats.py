"""Image-safety inspection: what an image's bytes really are, and whether they may be kept.

Every upload and import streams through a ``FormatInspector``; ``check`` then refuses data that is dangerous
(it makes a hypervisor or ``qemu-img`` open other files on the host) or mislabelled (its ``disk_format``
says something else than its bytes). Everything here is written from the formats' published layouts:

========  ==========================================================================================
qcow2     header at 0, magic ``QFI\\xfb``, big-endian; versions 2 and 3; header extensions follow it.
vmdk      a sparse extent (``KDMV`` at 0, little-endian) with its text descriptor embedded, or a plain
          text descriptor file (the data then lives in other files); ``COWD`` (ESX 2 sparse) is refused.
vhd       a 512-byte big-endian footer ``conectix``: at the end of every VHD, copied at 0 in dynamic
          and differencing disks, followed there by the ``cxsparse`` dynamic header.
vhdx      ``vhdxfile`` at 0, headers at 64 and 128 KiB, region tables at 192 and 256 KiB; the virtual
          size and any parent are items of the metadata region the region table points at.
vdi       pre-header text, signature ``0xbeda107f`` at 64, little-endian.
iso       ISO 9660 volume descriptors from sector 16 (``CD001`` at 0x8001), or a UDF volume
          recognition sequence (``BEA01`` there).
ploop     Parallels header ``WithoutFreeSpace`` / ``WithouFreSpacExt`` at 0, little-endian.
qed       ``QED\\0`` at 0: recognised only so that it is never taken for raw (it can name a backing file).
raw       anything else; ami, aki and ari are raw.
========  ==========================================================================================

Memory bound: an inspector keeps the first ``PREFIX_SIZE`` (1 MiB) bytes of the stream, at most one
further ``WINDOW_SIZE`` (1 MiB) window that a header points at (the VHDX metadata region, a VMDK descriptor
or VHD dynamic header placed after the first MiB) provided it ends within the first ``WINDOW_REACH``
(32 MiB), and the last ``TAIL_SIZE`` (512) bytes if the caller gives them to ``feed_tail``:
``MEMORY_BOUND`` bytes in all, never the image. Once it has what it needs ``done`` is true and ``feed``
returns at once, so the rest of a large stream costs nothing.

A fixed VHD is raw data followed by its footer and has nothing at the start; a prefix cannot see it. The
upload pipeline sees the whole stream, so it hands the last 512 bytes to ``feed_tail``: then a fixed VHD
is recognised (and a ``vhd`` label on data without a footer is refused, as is a footer appended to another
format). Without a tail a ``vhd`` label is accepted on raw-looking data, which is harmless.

Labels (``check``): ``raw``/``ami``/``aki``/``ari`` and any label this module does not know accept only
raw-compatible data: raw, ISO, or a fixed VHD (qemu reads the last two as raw, nothing in them refers to
another file). Like Glance, a perfectly safe qcow2 uploaded as ``raw`` is refused: something that later
probes the format would treat it differently from what its label promises. Every other label must match
the data exactly. Data matching two formats at once (a polyglot) is refused whatever its label.
"""

from __future__ import annotations

import re
import struct
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from glimpse.errors import BadRequest, UnsupportedMediaType

KiB = 1024
MiB = 1024 * KiB

PREFIX_SIZE = 1 * MiB
WINDOW_SIZE = 1 * MiB
WINDOW_REACH = 32 * MiB
TAIL_SIZE = 512
MEMORY_BOUND = PREFIX_SIZE + WINDOW_SIZE + TAIL_SIZE

SECTOR = 512
MAX_SIZE = 2**63 - 1  # the largest size a signed 64-bit column (and qemu) can hold


class Format(StrEnum):
    RAW = "raw"
    QCOW2 = "qcow2"
    VMDK = "vmdk"
    VHD = "vhd"
    VHDX = "vhdx"
    VDI = "vdi"
    ISO = "iso"
    PLOOP = "ploop"
    QED = "qed"


class ProblemKind(StrEnum):
    TRUNCATED = "truncated"  # the data ends inside a header
    MALFORMED = "malformed"  # a header value the format does not allow
    BACKING_FILE = "backing-file"  # the image depends on a parent image (a file on the host)
    DATA_FILE = "data-file"  # qcow2 guest data kept in an external file
    EXTERNAL_EXTENT = "external-extent"  # vmdk data in other files
    CREATE_TYPE = "create-type"  # vmdk createType outside the allow-list, or none
    UNKNOWN_FEATURE = "unknown-feature"  # a feature the reader is required to understand and we do not
    UNSUPPORTED = "unsupported"  # a format or state that is refused outright
    VIRTUAL_SIZE = "virtual-size"  # a size that overflows
    POLYGLOT = "polyglot"  # the data is valid as two formats
    UNINSPECTABLE = "uninspectable"  # what must be checked lies beyond the inspected bytes


@dataclass(frozen=True, slots=True)
class Problem:
    kind: ProblemKind
    message: str


@dataclass(frozen=True, slots=True)
class Inspection:
    """What the data is. ``problems`` empty means nothing dangerous was found; ``check`` decides the rest.

    ``virtual_size`` is the guest disk size in bytes from the header, None when the format has no header
    size (raw: its size is the data size, which the caller counts) or it could not be read.
    ``signatures`` lists every format the data carries a signature of (more than one is a polyglot).
    ``subformat``: qcow2 ``v2``/``v3``, the vmdk createType, vhd/vdi/vhdx ``fixed``/``dynamic``/...,
    iso ``iso9660``/``udf``.
    """

    format: Format
    virtual_size: int | None = None
    subformat: str | None = None
    encrypted: bool = False
    problems: tuple[Problem, ...] = ()
    signatures: tuple[Format, ...] = ()
    tail_inspected: bool = False

    @property
    def raw_compatible(self) -> bool:
        """Data that reads correctly as a plain disk: raw, an ISO, or a fixed VHD (raw plus a footer)."""
        return self.format in (Format.RAW, Format.ISO) or (self.format is Format.VHD and self.subformat == "fixed")


class ImageFormatError(UnsupportedMediaType, BadRequest):
    """The image data is refused: dangerous, malformed, or not what its ``disk_format`` says. An upload
    answers 415 with the reason, as Glance 33 does (its ``InvalidImageData``); an import task fails with it."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


# -- reading what has been kept ---------------------------------------------------------------------------
class _Missing(Exception):
    """An analyser needs bytes the inspector does not hold."""

    def __init__(self, offset: int, length: int) -> None:
        super().__init__(offset, length)
        self.offset = offset
        self.length = length


@dataclass(frozen=True, slots=True)
class _Data:
    prefix: bytes
    window_start: int = 0
    window: bytes = b""

    def read(self, offset: int, length: int) -> bytes:
        end = offset + length
        if end <= len(self.prefix):
            return self.prefix[offset:end]
        start = self.window_start
        if start <= offset and end <= start + len(self.window):
            return self.window[offset - start : end - start]
        raise _Missing(offset, length)

    def peek(self, offset: int, length: int) -> bytes | None:
        """Like ``read``, but None instead of asking for bytes that are not held (for optional details)."""
        try:
            return self.read(offset, length)
        except _Missing:
            return None


@dataclass(slots=True)
class _Findings:
    virtual_size: int | None = None
    subformat: str | None = None
    encrypted: bool = False
    problems: list[Problem] = field(default_factory=list)

    def add(self, kind: ProblemKind, message: str) -> None:
        self.problems.append(Problem(kind, message))

    def size(self, value: int, what: str) -> None:
        if value > MAX_SIZE:
            self.add(ProblemKind.VIRTUAL_SIZE, f"{what} header claims a virtual size of {value} bytes, which overflows")
        else:
            self.virtual_size = value


def _a(fmt: Format) -> str:
    return f"an {fmt}" if fmt[0] in "aeiou" else f"a {fmt}"


def _name(raw: bytes | str, limit: int = 80) -> str:
    """A file name from a header, quoted and cut short for a message."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return repr(text if len(text) <= limit else text[:limit] + "...")


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


def _qcow2(data: _Data, out: _Findings) -> None:
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
        shown = f" {_name(name)}" if name else ""
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


def _qcow2_extensions(data: _Data, out: _Findings, offset: int, end: int) -> None:
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
            name = _name(data.read(offset + 8, length))
            out.add(ProblemKind.DATA_FILE, f"qcow2 image names an external data file {name}")
        offset += 8 + (length + 7) // 8 * 8
    out.add(ProblemKind.MALFORMED, "qcow2 header has too many header extensions")


# -- vmdk -----------------------------------------------------------------------------------------------------
_VMDK_SPARSE = struct.Struct("<4sIIQQQQIQQQB4sH")  # the sparse extent header up to its padding
VMDK_SAFE_CREATE_TYPES = ("monolithicSparse", "streamOptimized")
_VMDK_EXTENT = re.compile(r'(RW|RDONLY|NOACCESS)\s+(\d{1,20})\s+([A-Za-z]+)(?:\s+"([^"]*)"(?:\s+(\d{1,20}))?)?')
_VMDK_EXTENT_START = re.compile(r"(RW|RDONLY|NOACCESS)\s")
_VMDK_FIELD = re.compile(r"([A-Za-z][\w.]*)\s*=\s*(.*)")
# a line only a vmdk descriptor has: one of its keys, or an extent
_VMDK_DESCRIPTOR_LINE = re.compile(
    rb"(?m)^[ \t]*(?:(?:createType|version|CID|parentCID)[ \t]*=|(?:RW|RDONLY|NOACCESS)[ \t]+\d+[ \t]+[A-Z]+)"
)
_TEXT_CONTROL = bytes(c for c in range(32) if c not in b"\t\n\r\f") + b"\x7f"


@dataclass(frozen=True, slots=True)
class _Extent:
    sectors: int
    kind: str
    filename: str | None


@dataclass(slots=True)
class _Descriptor:
    fields: dict[str, str] = field(default_factory=dict)
    extents: list[_Extent] = field(default_factory=list)
    bad_lines: list[str] = field(default_factory=list)


def _looks_like_vmdk_descriptor(head: bytes) -> bool:
    if head.startswith(b"# Disk DescriptorFile"):
        return True
    text = head.split(b"\0", 1)[0]
    if not text or text[:SECTOR].translate(None, _TEXT_CONTROL) != text[:SECTOR]:
        return False
    return _VMDK_DESCRIPTOR_LINE.search(text) is not None


def _parse_descriptor(raw: bytes) -> _Descriptor:
    descriptor = _Descriptor()
    for line in raw.split(b"\0", 1)[0].decode("utf-8", "replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if extent := _VMDK_EXTENT.fullmatch(line):
            _, sectors, kind, filename, _ = extent.groups()
            descriptor.extents.append(_Extent(int(sectors), kind.upper(), filename))
        elif not _VMDK_EXTENT_START.match(line) and (pair := _VMDK_FIELD.fullmatch(line)):
            descriptor.fields[pair.group(1).lower()] = pair.group(2).strip().strip('"')
        else:
            descriptor.bad_lines.append(line)
    return descriptor


def _check_descriptor(descriptor: _Descriptor, out: _Findings) -> None:
    for line in descriptor.bad_lines[:1]:
        out.add(ProblemKind.MALFORMED, f"vmdk descriptor has an unrecognised line {_name(line)}")
    create_type = descriptor.fields.get("createtype")
    if create_type is None:
        out.add(ProblemKind.CREATE_TYPE, "vmdk descriptor has no createType")
    elif create_type.lower() not in (t.lower() for t in VMDK_SAFE_CREATE_TYPES):
        allowed = ", ".join(VMDK_SAFE_CREATE_TYPES)
        out.add(ProblemKind.CREATE_TYPE, f"vmdk createType {_name(create_type)} is not allowed (allowed: {allowed})")
    else:
        out.subformat = create_type
    parent = descriptor.fields.get("parentfilenamehint")
    if parent is not None:
        out.add(ProblemKind.BACKING_FILE, f"vmdk image has a parent image {_name(parent)}")
    elif descriptor.fields.get("parentcid", "ffffffff").lower() != "ffffffff":
        out.add(ProblemKind.BACKING_FILE, "vmdk image is a delta disk of a parent image (parentCID is set)")


def _vmdk(data: _Data, out: _Findings) -> None:
    if data.prefix.startswith(b"COWD"):
        out.add(ProblemKind.UNSUPPORTED, "vmdk COWD (ESX 2) sparse images are not accepted: they can name a parent")
    elif data.prefix.startswith(b"KDMV"):
        _vmdk_sparse(data, out)
    else:
        _vmdk_descriptor_file(data, out)


def _vmdk_sparse(data: _Data, out: _Findings) -> None:
    (_, version, flags, capacity, grain, desc_offset, desc_size, *_, newline, compression) = _VMDK_SPARSE.unpack(
        data.read(0, _VMDK_SPARSE.size)
    )
    if version not in (1, 2, 3):
        out.add(ProblemKind.MALFORMED, f"vmdk sparse header has unsupported version {version}")
        return
    if flags & 1 and newline != b"\n \r\n":
        out.add(ProblemKind.MALFORMED, "vmdk header failed its newline check (the file was transferred as text)")
        return
    if grain == 0 or grain & (grain - 1) or grain > 1 << 20 or compression > 1:
        out.add(ProblemKind.MALFORMED, "vmdk sparse header has an invalid grain size or compression")
        return
    out.size(capacity * SECTOR, "vmdk")
    if capacity == 0:
        out.add(ProblemKind.EXTERNAL_EXTENT, "vmdk sparse header has no capacity, so its descriptor's extents decide")
    if desc_offset == 0 or desc_size == 0:
        out.add(ProblemKind.CREATE_TYPE, "vmdk sparse extent has no embedded descriptor (a piece of a split disk?)")
        return
    if desc_size * SECTOR > WINDOW_SIZE:
        out.add(ProblemKind.UNINSPECTABLE, f"vmdk embedded descriptor is larger than {WINDOW_SIZE} bytes")
        return
    descriptor = _parse_descriptor(data.read(desc_offset * SECTOR, desc_size * SECTOR))
    _check_descriptor(descriptor, out)
    extents = descriptor.extents
    if len(extents) != 1 or extents[0].kind != "SPARSE":
        listed = ", ".join(f"{e.kind} {_name(e.filename or '')}" for e in extents[:3]) or "none"
        out.add(
            ProblemKind.EXTERNAL_EXTENT,
            f"vmdk embedded descriptor must describe exactly one SPARSE extent (the file itself), not: {listed}",
        )


def _vmdk_descriptor_file(data: _Data, out: _Findings) -> None:
    descriptor = _parse_descriptor(data.prefix)
    _check_descriptor(descriptor, out)
    out.subformat = descriptor.fields.get("createtype")
    out.size(sum(e.sectors for e in descriptor.extents) * SECTOR, "vmdk")
    files = [_name(e.filename) for e in descriptor.extents if e.filename is not None]
    shown = ", ".join(files[:3]) + (", ..." if len(files) > 3 else "")
    out.add(
        ProblemKind.EXTERNAL_EXTENT,
        "vmdk data is a descriptor file without the disk data: its extents are other files"
        + (f" ({shown})" if files else ""),
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


def _vhd(data: _Data, out: _Findings) -> None:
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


def _vhd_with_tail(tail: bytes, fmt: Format, signatures: list[Format], data: _Data, out: _Findings) -> Format:
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


def _vhdx(data: _Data, out: _Findings) -> None:
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


def _vhdx_metadata(region: bytes, length: int, out: _Findings) -> None:
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


# -- vdi ------------------------------------------------------------------------------------------------------
VDI_SIGNATURE = struct.pack("<I", 0xBEDA107F)
_VDI_VERSION = 0x00010001
_VDI_TYPES = {1: "dynamic", 2: "fixed", 3: "undo", 4: "differencing"}


def _vdi(data: _Data, out: _Findings) -> None:
    header = data.read(0, 384)
    version, _, image_type = struct.unpack("<III", header[68:80])
    if version != _VDI_VERSION:
        out.add(ProblemKind.MALFORMED, f"vdi header has unsupported version {version:#x}")
        return
    out.subformat = _VDI_TYPES.get(image_type)
    if out.subformat is None:
        out.add(ProblemKind.MALFORMED, f"vdi header has unknown image type {image_type}")
        return
    if image_type in (3, 4):
        out.add(ProblemKind.BACKING_FILE, f"vdi image is an {out.subformat} image of a parent image")
    out.size(struct.unpack("<Q", header[368:376])[0], "vdi")


# -- ploop (Parallels) ----------------------------------------------------------------------------------------
PLOOP_SIGNATURES = (b"WithoutFreeSpace", b"WithouFreSpacExt")
_PLOOP = struct.Struct("<16sIIIIIQIIIQ")
_PLOOP_IN_USE = (0, 0x746F6E59, 0x312E3276)


def _ploop(data: _Data, out: _Findings) -> None:
    magic, version, _, _, cluster_sectors, _, sectors, in_use, *_ = _PLOOP.unpack(data.read(0, _PLOOP.size))
    if version != 2 or cluster_sectors == 0 or in_use not in _PLOOP_IN_USE:
        out.add(ProblemKind.MALFORMED, "ploop header has an invalid version, cluster size or in-use mark")
        return
    if magic == PLOOP_SIGNATURES[0] and sectors >> 32:
        out.add(ProblemKind.MALFORMED, "ploop header has a disk size the old format cannot hold")
        return
    out.size(sectors * SECTOR, "ploop")


# -- iso ------------------------------------------------------------------------------------------------------
_ISO_SECTOR = 2048
_ISO_FIRST = 16 * _ISO_SECTOR
ISO_IDENTIFIERS = (b"CD001", b"BEA01")
_ISO_MAX_DESCRIPTORS = 64
_ISO_PRIMARY, _ISO_TERMINATOR = 1, 255


def _iso(data: _Data, out: _Findings) -> None:
    if data.read(_ISO_FIRST + 1, 5) != b"CD001":
        out.subformat = "udf"
        return
    out.subformat = "iso9660"
    for n in range(_ISO_MAX_DESCRIPTORS):
        descriptor = data.read(_ISO_FIRST + n * _ISO_SECTOR, _ISO_SECTOR)
        if descriptor[1:6] != b"CD001":
            break
        if descriptor[0] == _ISO_TERMINATOR:
            return
        if descriptor[0] == _ISO_PRIMARY and out.virtual_size is None:
            blocks, blocks_be = struct.unpack("<I", descriptor[80:84])[0], struct.unpack(">I", descriptor[84:88])[0]
            block, block_be = struct.unpack("<H", descriptor[128:130])[0], struct.unpack(">H", descriptor[130:132])[0]
            if blocks != blocks_be or block != block_be:
                out.add(ProblemKind.MALFORMED, "iso primary volume descriptor has inconsistent sizes")
                return
            out.size(blocks * block, "iso")
    out.add(ProblemKind.MALFORMED, "iso volume descriptor set is not terminated")


# -- qed ------------------------------------------------------------------------------------------------------
def _qed(data: _Data, out: _Findings) -> None:
    out.add(ProblemKind.UNSUPPORTED, "qed images are not accepted (the format can name a backing file)")


def _raw(data: _Data, out: _Findings) -> None:
    pass


_ANALYSERS: dict[Format, Callable[[_Data, _Findings], None]] = {
    Format.RAW: _raw, Format.QCOW2: _qcow2, Format.VMDK: _vmdk, Format.VHD: _vhd, Format.VHDX: _vhdx,
    Format.VDI: _vdi, Format.ISO: _iso, Format.PLOOP: _ploop, Format.QED: _qed,
}  # fmt: skip


def _identify(head: bytes) -> list[Format]:
    """Every format whose signature the start of the data carries, those at offset 0 first."""
    found = []
    if head.startswith(QCOW2_MAGIC):
        found.append(Format.QCOW2)
    if head.startswith((b"KDMV", b"COWD")) or _looks_like_vmdk_descriptor(head):
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
    if head[_ISO_FIRST + 1 : _ISO_FIRST + 6] in ISO_IDENTIFIERS:
        found.append(Format.ISO)
    return found


def _analyse(data: _Data) -> tuple[Format, list[Format], _Findings, _Missing | None]:
    signatures = _identify(data.prefix)
    fmt = signatures[0] if signatures else Format.RAW
    out = _Findings()
    try:
        _ANALYSERS[fmt](data, out)
    except _Missing as missing:
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
        *_, missing = _analyse(_Data(bytes(self._prefix)))
        if missing is not None:
            end = missing.offset + missing.length
            if missing.length <= WINDOW_SIZE and end <= WINDOW_REACH:
                self._window_start, self._window_end = missing.offset, end
                self._window = bytearray(self._prefix[missing.offset : end])
                return
        self._done = True

    def result(self) -> Inspection:
        data = _Data(bytes(self._prefix), self._window_start, bytes(self._window))
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
            fmt = _vhd_with_tail(self._tail, fmt, signatures, data, out)
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


# -- the decision ---------------------------------------------------------------------------------------------
_EXACT_LABELS = {f.value: f for f in (Format.QCOW2, Format.VMDK, Format.VHDX, Format.VDI, Format.PLOOP, Format.ISO)}


def _label_accepts(inspection: Inspection, label: str) -> bool:
    if label in _EXACT_LABELS:
        return inspection.format is _EXACT_LABELS[label]
    if label == Format.VHD:
        # without the tail a fixed VHD looks raw; raw data under a vhd label is harmless
        return inspection.format is Format.VHD or (inspection.format is Format.RAW and not inspection.tail_inspected)
    # raw, ami, aki, ari, and any label this module does not know: only data that reads as a plain disk
    return inspection.raw_compatible


def check(
    inspection: Inspection, declared_disk_format: str, *, max_virtual_size: int, allow_encrypted: bool = False
) -> None:
    """Raise ``ImageFormatError`` unless the data is safe and is what ``declared_disk_format`` says.

    In order: any problem the inspection found; a label the data does not match; encryption unless
    ``allow_encrypted`` (an image meant to be encrypted, e.g. with a key id property); a header virtual
    size above ``max_virtual_size``.
    """
    if inspection.problems:
        detail = "; ".join(problem.message for problem in inspection.problems)
        raise ImageFormatError(f"Image data refused: {detail}", inspection.problems[0].kind)
    label = declared_disk_format
    if not _label_accepts(inspection, label):
        if inspection.format is Format.RAW:
            found = f"the data is not a {label} image (no {label} header was found)"
        else:
            found = f"the data is {_a(inspection.format)} image; set disk_format to {inspection.format}"
        raise ImageFormatError(f"Image data does not match disk_format '{label}': {found}", "mismatch")
    if inspection.encrypted and not allow_encrypted:
        raise ImageFormatError(
            f"Image data is an encrypted {inspection.format} image, which is not expected for this image", "encrypted"
        )
    size = inspection.virtual_size
    if size is not None and size > max_virtual_size:
        raise ImageFormatError(
            f"Image virtual size of {size} bytes exceeds the maximum of {max_virtual_size} bytes", "virtual-size"
        )


# -- what is recorded, as Glance 33 does ----------------------------------------------------------------------
INSPECTED_CONTAINER = "bare"  # Glance inspects only the data of a bare container; other containers are opaque
ENCRYPTION_KEY_PROPERTIES = ("cinder_encryption_key_id",)
ENCRYPTION_PREFIX = "os_encrypt_"  # os_encrypt_format, os_encrypt_key_id, ...
_SIZED_LABELS = frozenset({*_EXACT_LABELS, Format.VHD.value, Format.RAW.value})


def inspected(container_format: str | None) -> bool:
    """Whether data in this container is inspected (Glance: only ``bare``)."""
    return container_format == INSPECTED_CONTAINER


def expects_encryption(properties: Mapping[str, str]) -> bool:
    """An image whose properties say its data is encrypted (an ``os_encrypt_*`` property, or Cinder's key id):
    encrypted data (LUKS inside qcow2) is then accepted."""
    return any(name.startswith(ENCRYPTION_PREFIX) or name in ENCRYPTION_KEY_PROPERTIES for name in properties)


def decide(
    inspection: Inspection,
    declared_disk_format: str,
    *,
    size: int,
    max_virtual_size: int,
    allow_encrypted: bool,
    require_match: bool = True,
) -> int | None:
    """``check`` the data, and return the virtual size to record for it, as Glance 33 reports it.

    With ``require_match`` off (``[image_format] require_image_format_match = false``) data that does not
    match its label is kept all the same, as Glance then does, but unsafe data is still refused. The virtual
    size: the header's for a format that has one; the data size for raw data under a label the inspector
    knows (``raw``, ``vhd``, ...); none for zero bytes, for labels it does not know (``ami``, ``aki``,
    ``ari``) and for data that does not match its label.
    """
    try:
        check(inspection, declared_disk_format, max_virtual_size=max_virtual_size, allow_encrypted=allow_encrypted)
    except ImageFormatError as exc:
        if require_match or exc.reason != "mismatch":
            raise
        check_safe = Inspection(
            format=inspection.format, encrypted=inspection.encrypted, virtual_size=inspection.virtual_size
        )
        check(check_safe, inspection.format.value, max_virtual_size=max_virtual_size, allow_encrypted=allow_encrypted)
        # Glance: a raw label on a rich format records the data size; any other mismatch records nothing
        return size or None if declared_disk_format == Format.RAW.value else None
    if declared_disk_format not in _SIZED_LABELS:
        return None
    if inspection.virtual_size is not None:
        return inspection.virtual_size or None
    return size or None
