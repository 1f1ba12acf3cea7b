"""vmdk: a sparse extent (``KDMV`` at 0) with its embedded text descriptor, or a plain descriptor file."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

from glimpse.domain.formats.model import (
    SECTOR,
    WINDOW_SIZE,
    Data,
    Findings,
    ProblemKind,
    quoted,
)

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


def looks_like_vmdk_descriptor(head: bytes) -> bool:
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


def _check_descriptor(descriptor: _Descriptor, out: Findings) -> None:
    for line in descriptor.bad_lines[:1]:
        out.add(ProblemKind.MALFORMED, f"vmdk descriptor has an unrecognised line {quoted(line)}")
    create_type = descriptor.fields.get("createtype")
    if create_type is None:
        out.add(ProblemKind.CREATE_TYPE, "vmdk descriptor has no createType")
    elif create_type.lower() not in (t.lower() for t in VMDK_SAFE_CREATE_TYPES):
        allowed = ", ".join(VMDK_SAFE_CREATE_TYPES)
        out.add(ProblemKind.CREATE_TYPE, f"vmdk createType {quoted(create_type)} is not allowed (allowed: {allowed})")
    else:
        out.subformat = create_type
    parent = descriptor.fields.get("parentfilenamehint")
    if parent is not None:
        out.add(ProblemKind.BACKING_FILE, f"vmdk image has a parent image {quoted(parent)}")
    elif descriptor.fields.get("parentcid", "ffffffff").lower() != "ffffffff":
        out.add(ProblemKind.BACKING_FILE, "vmdk image is a delta disk of a parent image (parentCID is set)")


def analyse_vmdk(data: Data, out: Findings) -> None:
    if data.prefix.startswith(b"COWD"):
        out.add(ProblemKind.UNSUPPORTED, "vmdk COWD (ESX 2) sparse images are not accepted: they can name a parent")
    elif data.prefix.startswith(b"KDMV"):
        _vmdk_sparse(data, out)
    else:
        _vmdk_descriptor_file(data, out)


def _vmdk_sparse(data: Data, out: Findings) -> None:
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
        listed = ", ".join(f"{e.kind} {quoted(e.filename or '')}" for e in extents[:3]) or "none"
        out.add(
            ProblemKind.EXTERNAL_EXTENT,
            f"vmdk embedded descriptor must describe exactly one SPARSE extent (the file itself), not: {listed}",
        )


def _vmdk_descriptor_file(data: Data, out: Findings) -> None:
    descriptor = _parse_descriptor(data.prefix)
    _check_descriptor(descriptor, out)
    out.subformat = descriptor.fields.get("createtype")
    out.size(sum(e.sectors for e in descriptor.extents) * SECTOR, "vmdk")
    files = [quoted(e.filename) for e in descriptor.extents if e.filename is not None]
    shown = ", ".join(files[:3]) + (", ..." if len(files) > 3 else "")
    out.add(
        ProblemKind.EXTERNAL_EXTENT,
        "vmdk data is a descriptor file without the disk data: its extents are other files"
        + (f" ({shown})" if files else ""),
    )
