"""glimpse.domain.formats: real images made at test time by qemu-img (and xorriso), inspected as streams.

The images come from Debian's qemu-utils and xorriso packages; without them these tests fail (never skip).
Formats and virtual sizes are compared with what ``qemu-img info`` reports for the same files.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import shutil
import struct
import subprocess
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from glimpse.domain.formats import (
    MEMORY_BOUND,
    PREFIX_SIZE,
    WINDOW_REACH,
    Format,
    FormatInspector,
    ImageFormatError,
    Inspection,
    Problem,
    ProblemKind,
    check,
    inspect_bytes,
)
from glimpse.errors import BadRequest

MiB = 1024 * 1024
BLOCK = 4 * MiB
NO_LIMIT = 2**62
# qemu's driver names where they differ from disk_format names
QEMU_NAMES = {"vpc": Format.VHD, "parallels": Format.PLOOP}

# name -> qemu-img create arguments, in creation order (some images are the backing files of later ones)
QEMU_IMAGES: dict[str, tuple[str, ...]] = {
    "base.qcow2": ("-f", "qcow2", "base.qcow2", "1G"),
    "v2.qcow2": ("-f", "qcow2", "-o", "compat=0.10", "v2.qcow2", "100M"),
    "child.qcow2": ("-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "child.qcow2"),
    "datafile.qcow2": ("-f", "qcow2", "-o", "data_file=datafile.raw", "datafile.qcow2", "64M"),
    "encrypted.qcow2": (
        "--object", "secret,id=sec0,data=passphrase", "-f", "qcow2",
        "-o", "encrypt.format=luks,encrypt.key-secret=sec0", "encrypted.qcow2", "64M",
    ),
    "sparse.vmdk": ("-f", "vmdk", "-o", "subformat=monolithicSparse", "sparse.vmdk", "1G"),
    "stream.vmdk": ("-f", "vmdk", "-o", "subformat=streamOptimized", "stream.vmdk", "1G"),
    "flat.vmdk": ("-f", "vmdk", "-o", "subformat=monolithicFlat", "flat.vmdk", "64M"),
    "split.vmdk": ("-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", "split.vmdk", "3G"),
    "splitflat.vmdk": ("-f", "vmdk", "-o", "subformat=twoGbMaxExtentFlat", "splitflat.vmdk", "64M"),
    "parent.vmdk": ("-f", "vmdk", "parent.vmdk", "1G"),
    "delta.vmdk": ("-f", "vmdk", "-b", "parent.vmdk", "-F", "vmdk", "delta.vmdk"),
    "dynamic.vhd": ("-f", "vpc", "-o", "subformat=dynamic", "dynamic.vhd", "1G"),
    "fixed.vhd": ("-f", "vpc", "-o", "subformat=fixed", "fixed.vhd", "16M"),
    "dynamic.vhdx": ("-f", "vhdx", "dynamic.vhdx", "1G"),
    "fixed.vhdx": ("-f", "vhdx", "-o", "subformat=fixed", "fixed.vhdx", "16M"),
    "dynamic.vdi": ("-f", "vdi", "dynamic.vdi", "1G"),
    "fixed.vdi": ("-f", "vdi", "-o", "static=on", "fixed.vdi", "16M"),
    "disk.ploop": ("-f", "parallels", "disk.ploop", "1G"),
    "disk.qed": ("-f", "qed", "disk.qed", "1G"),
    "disk.raw": ("-f", "raw", "disk.raw", "16M"),
}  # fmt: skip


def require(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(
            f"{tool} is required by the image-format tests: install Debian's {package} "
            f"(apt-get install -y {package})",
            pytrace=False,
        )
    return path


# qemu-img times a PBKDF run to choose the LUKS iteration count; on a loaded machine that timing can fail
FLAKY_UNDER_LOAD = "Unable to get accurate CPU usage"


def run(*args: str, cwd: Path) -> str:
    for _ in range(5):  # about 1 in 5 attempts fails when the CPUs are overloaded
        done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
        if done.returncode == 0:
            return done.stdout
        if FLAKY_UNDER_LOAD not in done.stderr:
            break
    pytest.fail(f"{' '.join(args)} failed: {done.stderr}", pytrace=False)


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of real images, made once per session."""
    qemu_img = require("qemu-img", "qemu-utils")
    xorriso = require("xorriso", "xorriso")
    directory = tmp_path_factory.mktemp("images")
    for args in QEMU_IMAGES.values():
        run(qemu_img, "create", "-q", *args, cwd=directory)
    content = directory / "iso-content"
    content.mkdir()
    (content / "README.TXT").write_text("a CD-ROM\n")
    run(xorriso, "-as", "mkisofs", "-quiet", "-V", "GLIMPSE", "-o", "disk.iso", str(content), cwd=directory)
    return directory


def qemu_info(path: Path, driver: str | None = None) -> dict[str, Any]:
    args = ["qemu-img", "info", "--output=json", *(["-f", driver] if driver else []), str(path)]
    info: dict[str, Any] = json.loads(run(*args, cwd=path.parent))
    return info


def qemu_format(info: dict[str, Any]) -> Format:
    name: str = info["format"]
    return QEMU_NAMES[name] if name in QEMU_NAMES else Format(name)


def stream(data: bytes, block: int = BLOCK, tail: bool = True) -> Inspection:
    inspector = FormatInspector()
    for offset in range(0, len(data), block):
        inspector.feed(data[offset : offset + block])
        assert inspector.buffered <= MEMORY_BOUND
    if tail:
        inspector.feed_tail(data[-512:])
    return inspector.result()


def inspect_file(path: Path, block: int = BLOCK, tail: bool = True) -> Inspection:
    return stream(path.read_bytes(), block, tail)


def kinds(inspection: Inspection) -> set[ProblemKind]:
    return {problem.kind for problem in inspection.problems}


def patch(data: bytes, offset: int, new: bytes) -> bytes:
    return data[:offset] + new + data[offset + len(new) :]


def vhd_checksum(footer: bytes) -> bytes:
    return struct.pack(">I", ~(sum(footer[:64]) + sum(footer[68:512])) & 0xFFFFFFFF)


def iso_descriptors() -> bytes:
    """A primary volume descriptor for 100 blocks of 2048 bytes, then the set terminator (ECMA-119)."""
    primary = bytearray(2048)
    primary[0:7] = b"\x01CD001\x01"
    primary[80:88] = struct.pack("<I", 100) + struct.pack(">I", 100)
    primary[128:132] = struct.pack("<H", 2048) + struct.pack(">H", 2048)
    terminator = bytearray(2048)
    terminator[0:7] = b"\xffCD001\x01"
    return bytes(primary + terminator)


# -- what qemu-img makes is recognised, with qemu's virtual size --------------------------------------------
ACCEPTED = [
    # file, disk_format, format, subformat, qemu driver (for info -f), what qemu-img probes it as
    ("base.qcow2", "qcow2", Format.QCOW2, "v3", "qcow2", Format.QCOW2),
    ("v2.qcow2", "qcow2", Format.QCOW2, "v2", "qcow2", Format.QCOW2),
    ("sparse.vmdk", "vmdk", Format.VMDK, "monolithicSparse", "vmdk", Format.VMDK),
    ("stream.vmdk", "vmdk", Format.VMDK, "streamOptimized", "vmdk", Format.VMDK),
    ("dynamic.vhd", "vhd", Format.VHD, "dynamic", "vpc", Format.VHD),
    ("fixed.vhd", "vhd", Format.VHD, "fixed", "vpc", Format.RAW),  # footer only at the end: qemu probes raw
    ("dynamic.vhdx", "vhdx", Format.VHDX, "dynamic", "vhdx", Format.VHDX),
    ("fixed.vhdx", "vhdx", Format.VHDX, "fixed", "vhdx", Format.VHDX),
    ("dynamic.vdi", "vdi", Format.VDI, "dynamic", "vdi", Format.VDI),
    ("fixed.vdi", "vdi", Format.VDI, "fixed", "vdi", Format.VDI),
    ("disk.ploop", "ploop", Format.PLOOP, None, "parallels", Format.PLOOP),
    ("disk.iso", "iso", Format.ISO, "iso9660", "raw", Format.RAW),  # a CD image is a raw disk to qemu
    ("disk.raw", "raw", Format.RAW, None, "raw", Format.RAW),
]


@pytest.mark.parametrize(("name", "label", "fmt", "subformat", "driver", "probed"), ACCEPTED)
def test_real_images_are_recognised_with_qemus_virtual_size(
    images: Path, name: str, label: str, fmt: Format, subformat: str | None, driver: str, probed: Format
) -> None:
    result = inspect_file(images / name)
    assert result.problems == ()
    assert (result.format, result.subformat) == (fmt, subformat)
    assert qemu_format(qemu_info(images / name)) == probed
    expected_size = qemu_info(images / name, driver)["virtual-size"]
    if fmt is Format.RAW:
        assert result.virtual_size is None  # the caller knows a raw image's size: it is the data size
    else:
        assert result.virtual_size == expected_size
    check(result, label, max_virtual_size=expected_size)


@pytest.mark.parametrize("name", [case[0] for case in ACCEPTED])
@pytest.mark.parametrize("block", [511, 64 * 1024, BLOCK, 64 * MiB])
def test_block_size_does_not_change_the_result(images: Path, name: str, block: int) -> None:
    assert inspect_file(images / name, block) == inspect_bytes((images / name).read_bytes())


@pytest.mark.parametrize("label", ["raw", "ami", "aki", "ari"])
def test_raw_like_labels_accept_raw_iso_and_fixed_vhd(images: Path, label: str) -> None:
    for name in ("disk.raw", "disk.iso", "fixed.vhd"):
        check(inspect_file(images / name), label, max_virtual_size=NO_LIMIT)


# -- references to other files ------------------------------------------------------------------------------
def test_qcow2_with_a_backing_file_is_refused(images: Path) -> None:
    info = qemu_info(images / "child.qcow2")
    assert info["backing-filename"] == "base.qcow2"
    result = inspect_file(images / "child.qcow2")
    assert (result.format, result.virtual_size) == (qemu_format(info), info["virtual-size"])
    assert kinds(result) == {ProblemKind.BACKING_FILE}
    with pytest.raises(ImageFormatError, match=re.escape("backing file 'base.qcow2'")) as refused:
        check(result, "qcow2", max_virtual_size=NO_LIMIT)
    assert refused.value.reason == "backing-file"


def test_qcow2_with_an_external_data_file_is_refused(images: Path) -> None:
    info = qemu_info(images / "datafile.qcow2")
    assert info["format-specific"]["data"]["data-file"] == "datafile.raw"
    result = inspect_file(images / "datafile.qcow2")
    assert (result.format, result.virtual_size) == (qemu_format(info), info["virtual-size"])
    assert kinds(result) == {ProblemKind.DATA_FILE}
    with pytest.raises(ImageFormatError, match="external data file"):
        check(result, "qcow2", max_virtual_size=NO_LIMIT)


def test_qcow2_data_file_extension_without_the_feature_bit_is_still_refused(images: Path) -> None:
    data = (images / "datafile.qcow2").read_bytes()
    result = stream(patch(data, 72, bytes(8)))  # clear the incompatible features, keep the name extension
    assert kinds(result) == {ProblemKind.DATA_FILE}
    assert "'datafile.raw'" in result.problems[0].message


@pytest.mark.parametrize(("name", "create_type"), [
    ("flat.vmdk", "monolithicFlat"), ("split.vmdk", "twoGbMaxExtentSparse"), ("splitflat.vmdk", "twoGbMaxExtentFlat"),
])  # fmt: skip
def test_vmdk_descriptor_files_are_refused(images: Path, name: str, create_type: str) -> None:
    info = qemu_info(images / name)
    assert info["format-specific"]["data"]["create-type"] == create_type
    result = inspect_file(images / name)
    assert (result.format, result.virtual_size) == (qemu_format(info), info["virtual-size"])
    assert kinds(result) == {ProblemKind.CREATE_TYPE, ProblemKind.EXTERNAL_EXTENT}
    for label in ("vmdk", "raw"):
        with pytest.raises(ImageFormatError, match=f"createType '{create_type}' is not allowed"):
            check(result, label, max_virtual_size=NO_LIMIT)


def test_a_piece_of_a_split_vmdk_is_refused(images: Path) -> None:
    result = inspect_file(images / "split-s001.vmdk")
    assert result.format is Format.VMDK
    assert ProblemKind.CREATE_TYPE in kinds(result)


def test_vmdk_with_a_parent_is_refused(images: Path) -> None:
    info = qemu_info(images / "delta.vmdk")
    assert info["backing-filename"] == "parent.vmdk"
    result = inspect_file(images / "delta.vmdk")
    assert (result.format, result.virtual_size) == (qemu_format(info), info["virtual-size"])
    assert kinds(result) == {ProblemKind.BACKING_FILE}


def replace_descriptor(data: bytes, old: bytes, new: bytes) -> bytes:
    """Edit the descriptor qemu-img embeds in sectors 1 to 20 of a sparse vmdk."""
    start, size = 512, 20 * 512
    assert struct.unpack("<QQ", data[28:44]) == (start // 512, size // 512)
    text = data[start : start + size].rstrip(b"\0")
    assert old in text
    text = text.replace(old, new)
    assert len(text) <= size
    return data[:start] + text.ljust(size, b"\0") + data[start + size :]


@pytest.mark.parametrize(("old", "new", "problem"), [
    (b'RW 2097152 SPARSE "sparse.vmdk"', b'RW 2097152 FLAT "/etc/shadow" 0', ProblemKind.EXTERNAL_EXTENT),
    (b'RW 2097152 SPARSE "sparse.vmdk"', b'RW 2097152 SPARSE "sparse.vmdk"\nRW 8 FLAT "/dev/sda" 0',
     ProblemKind.EXTERNAL_EXTENT),
    (b'createType="monolithicSparse"', b'createType="vmfsRawDeviceMap"', ProblemKind.CREATE_TYPE),
    (b'createType="monolithicSparse"', b'#reatType="monolithicSparse"', ProblemKind.CREATE_TYPE),
    (b"parentCID=ffffffff", b'parentFileNameHint="/var/lib/nova/x"', ProblemKind.BACKING_FILE),
    (b"# Extent description", b"RW SPARSE whatever\n#", ProblemKind.MALFORMED),
])  # fmt: skip
def test_vmdk_embedded_descriptor_is_checked(images: Path, old: bytes, new: bytes, problem: ProblemKind) -> None:
    result = stream(replace_descriptor((images / "sparse.vmdk").read_bytes(), old, new))
    assert result.format is Format.VMDK
    assert problem in kinds(result)
    with pytest.raises(ImageFormatError):
        check(result, "vmdk", max_virtual_size=NO_LIMIT)


def test_vmdk_header_without_capacity_is_refused(images: Path) -> None:
    # with no capacity in the header a reader opens the extents the descriptor lists instead
    result = stream(patch((images / "sparse.vmdk").read_bytes(), 12, bytes(8)))
    assert ProblemKind.EXTERNAL_EXTENT in kinds(result)


def test_vmdk_descriptor_beyond_the_prefix_is_read_through_the_window(images: Path) -> None:
    data = bytearray((images / "sparse.vmdk").read_bytes())
    descriptor = bytes(data[512 : 512 + 20 * 512])
    moved = 3 * MiB
    data[28:36] = struct.pack("<Q", moved // 512)
    image = bytes(data) + bytes(moved - len(data)) + descriptor + bytes(MiB)
    inspector = FormatInspector()
    inspector.feed(image[:PREFIX_SIZE])
    assert not inspector.done
    inspector.feed(image[PREFIX_SIZE:])
    assert inspector.done
    result = inspector.result()
    assert (result.problems, result.subformat) == ((), "monolithicSparse")


# -- mislabelled data ---------------------------------------------------------------------------------------
def test_raw_data_labelled_qcow2_is_refused(images: Path) -> None:
    result = inspect_file(images / "disk.raw")
    with pytest.raises(ImageFormatError, match="not a qcow2 image") as refused:
        check(result, "qcow2", max_virtual_size=NO_LIMIT)
    assert refused.value.reason == "mismatch"
    assert isinstance(refused.value, BadRequest)


def test_qcow2_labelled_raw_is_refused(images: Path) -> None:
    result = inspect_file(images / "base.qcow2")
    with pytest.raises(ImageFormatError, match="the data is a qcow2 image; set disk_format to qcow2"):
        check(result, "raw", max_virtual_size=NO_LIMIT)


@pytest.mark.parametrize(("name", "label"), [
    ("sparse.vmdk", "qcow2"), ("dynamic.vhdx", "vhd"), ("dynamic.vhd", "vhdx"), ("dynamic.vdi", "raw"),
    ("disk.ploop", "iso"), ("disk.raw", "iso"), ("disk.iso", "qcow2"), ("base.qcow2", "ami"),
    ("base.qcow2", "some-format-we-do-not-know"), ("disk.raw", "vmdk"), ("disk.raw", "vhdx"),
])  # fmt: skip
def test_every_other_mislabelling_is_refused(images: Path, name: str, label: str) -> None:
    with pytest.raises(ImageFormatError, match=f"does not match disk_format '{label}'"):
        check(inspect_file(images / name), label, max_virtual_size=NO_LIMIT)


def test_unknown_labels_accept_raw_data(images: Path) -> None:
    check(inspect_file(images / "disk.raw"), "some-format-we-do-not-know", max_virtual_size=NO_LIMIT)


def test_vhd_label_on_raw_data(images: Path) -> None:
    # the footer of a fixed vhd is at the end: with the tail a missing footer is seen, without it not
    check(inspect_file(images / "disk.raw", tail=False), "vhd", max_virtual_size=NO_LIMIT)
    with pytest.raises(ImageFormatError, match="not a vhd image"):
        check(inspect_file(images / "disk.raw"), "vhd", max_virtual_size=NO_LIMIT)


def test_fixed_vhd_without_its_tail_looks_raw(images: Path) -> None:
    result = inspect_file(images / "fixed.vhd", tail=False)
    assert (result.format, result.tail_inspected) == (Format.RAW, False)


def test_qed_is_refused_under_any_label(images: Path) -> None:
    result = inspect_file(images / "disk.qed")
    assert (result.format, kinds(result)) == (qemu_format(qemu_info(images / "disk.qed")), {ProblemKind.UNSUPPORTED})
    for label in ("raw", "qcow2", "qed"):
        with pytest.raises(ImageFormatError, match="qed images are not accepted"):
            check(result, label, max_virtual_size=NO_LIMIT)


# -- sizes ----------------------------------------------------------------------------------------------------
def test_absurd_virtual_size_is_refused(images: Path) -> None:
    result = stream(patch((images / "base.qcow2").read_bytes(), 24, struct.pack(">Q", 2**62)))
    assert (result.problems, result.virtual_size) == ((), 2**62)
    with pytest.raises(ImageFormatError, match="exceeds the maximum of 1099511627776 bytes") as refused:
        check(result, "qcow2", max_virtual_size=2**40)
    assert refused.value.reason == "virtual-size"
    check(replace(result, virtual_size=2**40), "qcow2", max_virtual_size=2**40)


@pytest.mark.parametrize(("name", "offset", "field"), [
    ("base.qcow2", 24, struct.pack(">Q", 2**64 - 1)),
    ("base.qcow2", 24, struct.pack(">Q", 2**63)),
    ("sparse.vmdk", 12, struct.pack("<Q", 2**60)),  # sectors: 2^69 bytes
    ("dynamic.vdi", 368, struct.pack("<Q", 2**64 - 1)),
    ("disk.ploop", 36, struct.pack("<Q", 2**63)),
])  # fmt: skip
def test_overflowing_virtual_size_is_a_problem(images: Path, name: str, offset: int, field: bytes) -> None:
    result = stream(patch((images / name).read_bytes(), offset, field))
    assert (kinds(result), result.virtual_size) == ({ProblemKind.VIRTUAL_SIZE}, None)
    with pytest.raises(ImageFormatError, match="overflows"):
        check(result, name.rsplit(".", 1)[1], max_virtual_size=NO_LIMIT)


# -- malformed headers ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "length"), [
    ("base.qcow2", 4), ("base.qcow2", 50), ("base.qcow2", 90), ("sparse.vmdk", 60), ("sparse.vmdk", 600),
    ("dynamic.vhd", 512), ("dynamic.vhd", 600), ("dynamic.vhdx", 100_000), ("dynamic.vhdx", 2 * MiB),
    ("dynamic.vdi", 300), ("disk.ploop", 40), ("disk.iso", 0x8000 + 100),
])  # fmt: skip
def test_truncated_headers_are_refused(images: Path, name: str, length: int) -> None:
    result = stream((images / name).read_bytes()[:length], block=4096)
    assert ProblemKind.TRUNCATED in kinds(result)
    with pytest.raises(ImageFormatError, match="truncated"):
        check(result, name.rsplit(".", 1)[1], max_virtual_size=NO_LIMIT)


@pytest.mark.parametrize(("name", "offset", "field", "problem"), [
    ("base.qcow2", 4, struct.pack(">I", 4), ProblemKind.MALFORMED),  # version
    ("base.qcow2", 20, struct.pack(">I", 30), ProblemKind.MALFORMED),  # cluster bits
    ("base.qcow2", 32, struct.pack(">I", 7), ProblemKind.MALFORMED),  # encryption method
    ("base.qcow2", 72, struct.pack(">Q", 1 << 5), ProblemKind.UNKNOWN_FEATURE),
    ("base.qcow2", 72, struct.pack(">Q", 1 << 1), ProblemKind.MALFORMED),  # marked corrupt
    ("base.qcow2", 100, struct.pack(">I", 96), ProblemKind.MALFORMED),  # header length
    ("base.qcow2", 112 + 4, struct.pack(">I", 10**6), ProblemKind.MALFORMED),  # extension past the cluster
    ("sparse.vmdk", 4, struct.pack("<I", 9), ProblemKind.MALFORMED),  # version
    ("sparse.vmdk", 73, b"\r\n\n\n", ProblemKind.MALFORMED),  # newline check (text-mode transfer)
    ("dynamic.vhd", 60, struct.pack(">I", 2), ProblemKind.MALFORMED),  # checksum no longer matches
    ("dynamic.vhd", 512, b"notsparse", ProblemKind.MALFORMED),  # dynamic header cookie
    ("dynamic.vhdx", 192 * 1024 + 16 + 20, b"\x01", ProblemKind.MALFORMED),  # region tables disagree
    ("dynamic.vhdx", 3 * MiB, b"notmeta!", ProblemKind.MALFORMED),  # metadata table signature
    ("dynamic.vdi", 68, struct.pack("<I", 0x20000), ProblemKind.MALFORMED),  # version
    ("dynamic.vdi", 76, struct.pack("<I", 9), ProblemKind.MALFORMED),  # image type
    ("disk.ploop", 16, struct.pack("<I", 3), ProblemKind.MALFORMED),  # version
    ("disk.iso", 0x8000 + 84, struct.pack(">I", 7), ProblemKind.MALFORMED),  # both-endian sizes disagree
])  # fmt: skip
def test_malformed_headers_are_refused(
    images: Path, name: str, offset: int, field: bytes, problem: ProblemKind
) -> None:
    result = stream(patch((images / name).read_bytes(), offset, field))
    assert problem in kinds(result)
    with pytest.raises(ImageFormatError, match="Image data refused"):
        check(result, name.rsplit(".", 1)[1], max_virtual_size=NO_LIMIT)


def test_vhdx_needs_one_valid_header(images: Path) -> None:
    data = patch((images / "dynamic.vhdx").read_bytes(), 64 * 1024, b"xxxx")
    assert stream(data).problems == ()
    assert kinds(stream(patch(data, 128 * 1024, b"xxxx"))) == {ProblemKind.MALFORMED}


def set_vhd_disk_type(data: bytes, disk_type: int) -> bytes:
    def fix(footer: bytes) -> bytes:
        footer = patch(footer, 60, struct.pack(">I", disk_type))
        return patch(footer, 64, vhd_checksum(footer))

    return fix(data[:512]) + data[512:-512] + fix(data[-512:])


def test_differencing_vhd_is_refused(images: Path) -> None:
    result = stream(set_vhd_disk_type((images / "dynamic.vhd").read_bytes(), 4))
    assert (result.subformat, kinds(result)) == ("differencing", {ProblemKind.BACKING_FILE})


def test_dynamic_vhd_must_end_with_its_footer(images: Path) -> None:
    data = (images / "dynamic.vhd").read_bytes()
    assert kinds(stream(data[:-512] + bytes(512))) == {ProblemKind.MALFORMED}
    assert stream(data[:-512] + bytes(512), tail=False).problems == ()  # not seen without the tail


def vhdx_metadata_entry(data: bytes, item: str) -> int:
    region = 3 * MiB
    count = struct.unpack("<H", data[region + 10 : region + 12])[0]
    for i in range(count):
        entry = region + 32 + 32 * i
        if data[entry : entry + 16] == uuid.UUID(item).bytes_le:
            return region + int.from_bytes(data[entry + 16 : entry + 20], "little")
    raise AssertionError(f"no metadata item {item}")


def test_differencing_vhdx_is_refused(images: Path) -> None:
    data = (images / "dynamic.vhdx").read_bytes()
    parameters = vhdx_metadata_entry(data, "caa16737-fa36-4d43-b3b6-33f0aa44e76b")
    result = stream(patch(data, parameters + 4, struct.pack("<I", 2)))  # HasParent
    assert (result.subformat, kinds(result)) == ("differencing", {ProblemKind.BACKING_FILE})


def test_vhdx_with_a_pending_log_is_refused(images: Path) -> None:
    result = stream(patch((images / "dynamic.vhdx").read_bytes(), 128 * 1024 + 48, b"\x01" * 16))
    assert kinds(result) == {ProblemKind.UNSUPPORTED}


def test_vhdx_metadata_out_of_reach_is_refused(images: Path) -> None:
    data = (images / "dynamic.vhdx").read_bytes()
    far = struct.pack("<Q", WINDOW_REACH)
    for table in (192 * 1024, 256 * 1024):  # the metadata region is the second entry of both tables
        data = patch(data, table + 16 + 32 + 16, far)
    inspector = FormatInspector()
    inspector.feed(data)
    assert inspector.done  # nothing more it could use
    assert kinds(inspector.result()) == {ProblemKind.UNINSPECTABLE}


def test_differencing_vdi_is_refused(images: Path) -> None:
    result = stream(patch((images / "dynamic.vdi").read_bytes(), 76, struct.pack("<I", 4)))
    assert (result.subformat, kinds(result)) == ("differencing", {ProblemKind.BACKING_FILE})


# -- encryption -----------------------------------------------------------------------------------------------
def test_encrypted_qcow2_is_reported_and_refused_unless_expected(images: Path) -> None:
    info = qemu_info(images / "encrypted.qcow2")
    assert info["encrypted"] is True
    result = inspect_file(images / "encrypted.qcow2")
    assert (result.encrypted, result.subformat, result.problems) == (True, "v3+luks", ())
    assert result.virtual_size == info["virtual-size"]
    with pytest.raises(ImageFormatError, match="encrypted qcow2") as refused:
        check(result, "qcow2", max_virtual_size=NO_LIMIT)
    assert refused.value.reason == "encrypted"
    check(result, "qcow2", max_virtual_size=NO_LIMIT, allow_encrypted=True)


# -- polyglots ------------------------------------------------------------------------------------------------
def test_qcow2_with_an_iso_volume_descriptor_is_refused(images: Path) -> None:
    polyglot = images / "polyglot.qcow2"
    polyglot.write_bytes(patch((images / "base.qcow2").read_bytes(), 0x8000, iso_descriptors()))
    assert qemu_format(qemu_info(polyglot)) is Format.QCOW2  # still a working qcow2 for qemu
    result = inspect_file(polyglot)
    assert (result.format, result.signatures) == (Format.QCOW2, (Format.QCOW2, Format.ISO))
    assert kinds(result) == {ProblemKind.POLYGLOT}
    for label in ("iso", "qcow2", "raw"):
        with pytest.raises(ImageFormatError, match=r"more than one format \(qcow2, iso\)"):
            check(result, label, max_virtual_size=NO_LIMIT)


def test_iso_with_a_qcow2_header_is_refused(images: Path) -> None:
    iso = (images / "disk.iso").read_bytes()
    result = stream(patch(iso, 0, (images / "base.qcow2").read_bytes()[:512]))
    assert ProblemKind.POLYGLOT in kinds(result)


@pytest.mark.parametrize("name", ["base.qcow2", "disk.iso", "sparse.vmdk"])
def test_vhd_footer_appended_to_another_format_is_refused(images: Path, name: str) -> None:
    footer = (images / "fixed.vhd").read_bytes()[-512:]
    result = stream((images / name).read_bytes() + footer)
    assert Format.VHD in result.signatures
    assert ProblemKind.POLYGLOT in kinds(result)


def test_hand_made_iso_and_udf_are_recognised() -> None:
    iso = bytes(0x8000) + iso_descriptors() + bytes(98 * 2048)
    assert (inspect_bytes(iso).format, inspect_bytes(iso).virtual_size) == (Format.ISO, 100 * 2048)
    udf = bytes(0x8000) + b"\x00BEA01\x01".ljust(2048, b"\0") + b"\x00NSR02\x01".ljust(2048, b"\0") + bytes(4096)
    assert (inspect_bytes(udf).format, inspect_bytes(udf).subformat, inspect_bytes(udf).problems) == (
        Format.ISO, "udf", ()
    )  # fmt: skip


def test_text_that_is_a_vmdk_descriptor_is_not_raw() -> None:
    descriptor = b'version=1\ncreateType="monolithicFlat"\nRW 2048 FLAT "/etc/passwd" 0\n'
    result = inspect_bytes(descriptor)
    assert (result.format, result.virtual_size) == (Format.VMDK, 2048 * 512)
    with pytest.raises(ImageFormatError, match="'/etc/passwd'"):
        check(result, "raw", max_virtual_size=NO_LIMIT)
    headless = inspect_bytes(b"# no header line and no createType\nversion=1\nRW 8 FLAT \"/dev/sda\" 0\n")
    assert (headless.format, kinds(headless)) == (Format.VMDK, {ProblemKind.CREATE_TYPE, ProblemKind.EXTERNAL_EXTENT})
    assert inspect_bytes(b"just some text\ncreate a type = no\n").format is Format.RAW
    assert inspect_bytes(b"\x00version=1\n" + bytes(600)).format is Format.RAW  # binary, not a text file


def test_huge_numbers_in_a_descriptor_are_malformed_not_a_crash() -> None:
    result = inspect_bytes(b'createType="monolithicSparse"\nRW ' + b"9" * 5000 + b' SPARSE "x"\n')
    assert ProblemKind.MALFORMED in kinds(result)


@pytest.mark.parametrize("name", [case[0] for case in ACCEPTED] + ["child.qcow2", "delta.vmdk", "encrypted.qcow2"])
def test_damaged_images_are_refused_or_accepted_but_never_crash(images: Path, name: str) -> None:
    rng = random.Random(name)
    original = (images / name).read_bytes()
    for _ in range(40):
        data = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            offset = rng.randrange(min(len(data), rng.choice([128, 1024, 70_000, 300_000, 4 * MiB])))
            data[offset : offset + rng.choice([1, 8])] = bytes([rng.choice([0, 0x7F, 0xFF, rng.randrange(256)])]) * 8
        if rng.random() < 0.2:
            del data[rng.randrange(len(data) + 1) :]
        result = stream(bytes(data), block=BLOCK)
        with contextlib.suppress(ImageFormatError):
            check(result, name.rsplit(".", 1)[1], max_virtual_size=NO_LIMIT)


# -- the stream -----------------------------------------------------------------------------------------------
def test_a_gibibyte_costs_nothing_after_the_prefix(images: Path) -> None:
    for head in (b"", (images / "base.qcow2").read_bytes()):
        block = head + bytes(BLOCK - len(head))
        inspector = FormatInspector()
        inspector.feed(block)
        assert inspector.done
        for _ in range(255):  # the rest of 1 GiB: nothing more is kept once the format is known
            inspector.feed(block)
        assert inspector.buffered == PREFIX_SIZE
        assert inspector.result().format is (Format.QCOW2 if head else Format.RAW)


def test_vhdx_metadata_window_is_kept_and_then_the_rest_is_ignored(images: Path) -> None:
    data = (images / "dynamic.vhdx").read_bytes()
    inspector = FormatInspector()
    offset = 0
    while not inspector.done:
        inspector.feed(memoryview(data)[offset : offset + 64 * 1024])
        offset += 64 * 1024
        assert inspector.buffered <= MEMORY_BOUND
    assert offset == 4 * MiB  # the metadata region ends at 4 MiB in qemu's layout
    assert inspector.buffered == PREFIX_SIZE + MiB
    assert inspector.result() == inspect_file(images / "dynamic.vhdx", tail=False)


def test_chunks_may_be_bytes_bytearray_or_memoryview(images: Path) -> None:
    data = (images / "dynamic.vhdx").read_bytes()
    results = []
    for kind in (bytes, bytearray, memoryview):
        inspector = FormatInspector()
        for offset in range(0, len(data), 1000_000):
            inspector.feed(kind(data[offset : offset + 1000_000]))
        inspector.feed_tail(kind(data[-4096:]))
        assert inspector.buffered <= MEMORY_BOUND
        results.append(inspector.result())
    assert results[0] == results[1] == results[2]


def test_empty_and_tiny_streams_are_raw() -> None:
    assert FormatInspector().result() == Inspection(Format.RAW)
    assert inspect_bytes(b"QFI").format is Format.RAW
    check(inspect_bytes(b""), "raw", max_virtual_size=0)


# -- check() on its own ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("inspection", "accepting", "refusing"), [
    (Inspection(Format.RAW), {"raw", "ami", "aki", "ari", "vhd", "other"}, {"qcow2", "vmdk", "vhdx", "vdi", "iso"}),
    (Inspection(Format.RAW, tail_inspected=True), {"raw", "ami", "other"}, {"vhd", "ploop"}),
    (Inspection(Format.ISO), {"iso", "raw", "aki", "other"}, {"qcow2", "vhd"}),
    (Inspection(Format.VHD, subformat="fixed"), {"vhd", "raw", "ari"}, {"vhdx", "iso"}),
    (Inspection(Format.VHD, subformat="dynamic"), {"vhd"}, {"raw", "ami", "vhdx", "other"}),
    (Inspection(Format.QCOW2), {"qcow2"}, {"raw", "ami", "aki", "ari", "iso", "vhd", "other"}),
    (Inspection(Format.PLOOP), {"ploop"}, {"raw", "qcow2"}),
])  # fmt: skip
def test_label_rules(inspection: Inspection, accepting: set[str], refusing: set[str]) -> None:
    for label in accepting:
        check(inspection, label, max_virtual_size=0)
    for label in refusing:
        with pytest.raises(ImageFormatError, match="does not match disk_format"):
            check(inspection, label, max_virtual_size=0)


def test_every_problem_is_in_the_message() -> None:
    inspection = Inspection(
        Format.QCOW2,
        problems=(Problem(ProblemKind.BACKING_FILE, "one"), Problem(ProblemKind.POLYGLOT, "two")),
    )
    with pytest.raises(ImageFormatError, match=r"^Image data refused: one; two$") as refused:
        check(inspection, "qcow2", max_virtual_size=NO_LIMIT)
    assert refused.value.reason == "backing-file"
