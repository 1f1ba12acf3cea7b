"""What fsck finds: the kinds of finding, each finding, the tallies per store, and the report printed."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    ORPHAN = "orphan"  # no live image references it: deleted by --repair
    UNKNOWN_OBJECT = "unknown_object"  # not attributable to an image of this database: left alone
    MISSING = "missing"  # a location whose object is gone
    SIZE_MISMATCH = "size_mismatch"  # the object's size is not the image's size
    DATA_LOST = "data_lost"  # an active (or deactivated) image none of whose copies exists
    STUCK = "stuck"  # in 'saving' with no upload running: put back to 'queued' by --repair
    UNREADABLE = "unreadable"  # a store or an object could not be examined
    UNKNOWN_STORE = "unknown_store"  # a location in a store that is not configured
    IN_PROGRESS = "in_progress"  # not a problem: an upload that may be running right now


@dataclass(slots=True)
class Finding:
    kind: Kind
    detail: str
    store: str | None = None
    image_id: str | None = None
    url: str | None = None
    size: int | None = None
    repaired: bool = False
    repair_error: str | None = None

    @property
    def problem(self) -> bool:
        return self.kind != Kind.IN_PROGRESS

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "store": self.store,
            "image_id": self.image_id,
            "url": self.url,
            "size": self.size,
            "detail": self.detail,
            "problem": self.problem,
            "repaired": self.repaired,
            "repair_error": self.repair_error,
        }


@dataclass(slots=True)
class StoreTally:
    available: bool = True
    objects: int = 0
    bytes: int = 0
    referenced: int = 0
    partial: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "objects": self.objects,
            "bytes": self.bytes,
            "referenced": self.referenced,
            "partial": self.partial,
        }


@dataclass(slots=True)
class FsckReport:
    repair: bool
    uploads_may_run: bool
    images_checked: int = 0
    stores: dict[str, StoreTally] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.problem]

    @property
    def remaining(self) -> list[Finding]:
        """Problems still there after this run (all of them without --repair)."""
        return [f for f in self.problems if not f.repaired]

    @property
    def clean(self) -> bool:
        return not self.remaining

    def as_dict(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "repair": self.repair,
            "uploads_may_run": self.uploads_may_run,
            "images_checked": self.images_checked,
            "stores": {store_id: tally.as_dict() for store_id, tally in self.stores.items()},
            "findings": [f.as_dict() for f in self.findings],
            "problems": len(self.problems),
            "repaired": sum(1 for f in self.problems if f.repaired),
            "remaining": len(self.remaining),
        }

    def render(self) -> str:
        """The human summary: per store, then the images, then the verdict."""
        lines = [f"{len(self.stores)} store(s), {self.images_checked} image(s) with data or in 'saving' checked"]
        if self.uploads_may_run:
            lines.append("a glimpse serve is using this data directory: uploads in progress are left alone")
        for store_id, tally in self.stores.items():
            if tally.available:
                lines.append(
                    f"store {store_id}: {tally.objects} object(s), {_bytes(tally.bytes)}, {tally.referenced} "
                    f"referenced, {tally.partial} unfinished write(s)"
                )
            else:
                lines.append(f"store {store_id}: could not be listed")
            lines += [_line(f) for f in self.findings if f.store == store_id]
        others = [f for f in self.findings if f.store not in self.stores]
        if others:
            lines.append("images:")
            lines += [_line(f) for f in others]
        problems, remaining = len(self.problems), len(self.remaining)
        if not problems:
            lines.append("clean: no problems found")
        elif self.repair:
            lines.append(f"{problems} problem(s): {problems - remaining} repaired, {remaining} remaining")
        else:
            lines.append(f"{problems} problem(s) found; `glimpse fsck --repair` repairs orphans and stuck uploads")
        return "\n".join(lines)


_LABELS = {Kind.DATA_LOST: "DATA LOST", Kind.IN_PROGRESS: "in progress"}


def _line(finding: Finding) -> str:
    label = _LABELS.get(finding.kind, finding.kind.value.replace("_", " "))
    text = f"  {label:<15} {finding.detail}"
    if finding.repaired:
        text += f"  -> {'back to queued' if finding.kind == Kind.STUCK else 'removed'}"
    elif finding.repair_error:
        text += f"  -> NOT repaired: {finding.repair_error}"
    return text


def _bytes(count: int) -> str:
    size = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{count} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
