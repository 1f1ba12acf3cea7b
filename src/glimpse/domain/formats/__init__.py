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

The package: ``model`` (formats, problems, the inspection), one module per format family (``qcow2``,
``vmdk``, ``vhd`` with vhdx, ``others``), ``inspector`` (the streaming ``FormatInspector``) and ``policy``
(``check``, ``decide``). Import from ``glimpse.domain.formats``: the names below are its interface.
"""

from __future__ import annotations

from glimpse.domain.formats.inspector import FormatInspector, inspect_bytes
from glimpse.domain.formats.model import (
    MAX_SIZE,
    MEMORY_BOUND,
    PREFIX_SIZE,
    SECTOR,
    TAIL_SIZE,
    WINDOW_REACH,
    WINDOW_SIZE,
    Format,
    ImageFormatError,
    Inspection,
    Problem,
    ProblemKind,
)
from glimpse.domain.formats.policy import (
    ENCRYPTION_KEY_PROPERTIES,
    ENCRYPTION_PREFIX,
    INSPECTED_CONTAINER,
    check,
    decide,
    expects_encryption,
    inspected,
)

__all__ = [
    "ENCRYPTION_KEY_PROPERTIES",
    "ENCRYPTION_PREFIX",
    "INSPECTED_CONTAINER",
    "MAX_SIZE",
    "MEMORY_BOUND",
    "PREFIX_SIZE",
    "SECTOR",
    "TAIL_SIZE",
    "WINDOW_REACH",
    "WINDOW_SIZE",
    "Format",
    "FormatInspector",
    "ImageFormatError",
    "Inspection",
    "Problem",
    "ProblemKind",
    "check",
    "decide",
    "expects_encryption",
    "inspect_bytes",
    "inspected",
]
