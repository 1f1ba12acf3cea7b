"""The formats with a single header to read: vdi, ploop, iso; qed (recognised, refused) and raw."""

from __future__ import annotations

import struct

from glimpse.domain.formats.model import (
    SECTOR,
    Data,
    Findings,
    ProblemKind,
)

# -- vdi ------------------------------------------------------------------------------------------------------
VDI_SIGNATURE = struct.pack("<I", 0xBEDA107F)
_VDI_VERSION = 0x00010001
_VDI_TYPES = {1: "dynamic", 2: "fixed", 3: "undo", 4: "differencing"}


def analyse_vdi(data: Data, out: Findings) -> None:
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


def analyse_ploop(data: Data, out: Findings) -> None:
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
ISO_FIRST = 16 * _ISO_SECTOR
ISO_IDENTIFIERS = (b"CD001", b"BEA01")
_ISO_MAX_DESCRIPTORS = 64
_ISO_PRIMARY, _ISO_TERMINATOR = 1, 255


def analyse_iso(data: Data, out: Findings) -> None:
    if data.read(ISO_FIRST + 1, 5) != b"CD001":
        out.subformat = "udf"
        return
    out.subformat = "iso9660"
    for n in range(_ISO_MAX_DESCRIPTORS):
        descriptor = data.read(ISO_FIRST + n * _ISO_SECTOR, _ISO_SECTOR)
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
def analyse_qed(data: Data, out: Findings) -> None:
    out.add(ProblemKind.UNSUPPORTED, "qed images are not accepted (the format can name a backing file)")


def analyse_raw(data: Data, out: Findings) -> None:
    pass
