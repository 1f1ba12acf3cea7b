"""What an inspection finds (formats, problems, the result) and how analysers read the bytes kept."""

from __future__ import annotations

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
class MissingData(Exception):
    """An analyser needs bytes the inspector does not hold."""

    def __init__(self, offset: int, length: int) -> None:
        super().__init__(offset, length)
        self.offset = offset
        self.length = length


@dataclass(frozen=True, slots=True)
class Data:
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
        raise MissingData(offset, length)

    def peek(self, offset: int, length: int) -> bytes | None:
        """Like ``read``, but None instead of asking for bytes that are not held (for optional details)."""
        try:
            return self.read(offset, length)
        except MissingData:
            return None


@dataclass(slots=True)
class Findings:
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


def article(fmt: Format) -> str:
    return f"an {fmt}" if fmt[0] in "aeiou" else f"a {fmt}"


def quoted(raw: bytes | str, limit: int = 80) -> str:
    """A file name from a header, quoted and cut short for a message."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return repr(text if len(text) <= limit else text[:limit] + "...")
