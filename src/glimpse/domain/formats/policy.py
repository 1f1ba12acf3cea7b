"""The safety policy: whether inspected data may be kept under its label, and what is recorded."""

from __future__ import annotations

from collections.abc import Mapping

from glimpse.domain.formats.model import (
    Format,
    ImageFormatError,
    Inspection,
    article,
)

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
            found = f"the data is {article(inspection.format)} image; set disk_format to {inspection.format}"
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
