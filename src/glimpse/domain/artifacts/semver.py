"""Semantic versions of artifacts: lenient parsing ("1" -> "1.0.0", "1.2-beta" -> "1.2.0-beta") and the
sortable form stored in the database (a 64-bit number for major.minor.patch and whether it is a
release, the pre-release label with numeric parts zero-padded, the build label)."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_COMPONENT = 2**16 - 1
_PADDING = 6
_BASE = re.compile(r"^\d+(?:\.\d+(?:\.\d+)?)?")
_IDENT = re.compile(r"^[0-9A-Za-z-]+$")


@dataclass(frozen=True, slots=True)
class SemVer:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    @property
    def prefix(self) -> int:
        """major, minor and patch in 16 bits each, then 2 (release) or 0 (pre-release) in the next two."""
        flag = 0 if self.prerelease else 2
        return (self.major << 48) | (self.minor << 32) | (self.patch << 16) | (flag << 14)

    @property
    def suffix(self) -> str:
        """The pre-release label, numeric identifiers zero-padded so that text order is semver order."""
        return ".".join(part.zfill(_PADDING) if part.isdigit() else part for part in self.prerelease)

    @property
    def meta(self) -> str:
        return ".".join(self.build)


def _identifiers(label: str, what: str) -> tuple[str, ...]:
    if not label:
        return ()
    parts = tuple(label.split("."))
    for part in parts:
        if not _IDENT.match(part):
            raise ValueError(f"Invalid {what} identifier {part!r}")
    return parts


def parse(text: str) -> SemVer:
    """Coerce ``text`` into a semantic version; ValueError when it cannot be read as one."""
    text = str(text).strip()
    match = _BASE.match(text)
    if not match:
        raise ValueError(f"Invalid version string: {text!r}")
    numbers = [int(part) for part in text[: match.end()].split(".")]
    while len(numbers) < 3:
        numbers.append(0)
    for number in numbers:
        if number > MAX_COMPONENT:
            raise ValueError(f"Version component is too large ({MAX_COMPONENT} max)")
    rest = re.sub(r"[^a-zA-Z0-9+.-]", "-", text[match.end() :])
    prerelease = build = ""
    if rest:
        if rest[0] in "+.":
            build = rest[1:]
        else:
            rest = rest[1:] if rest[0] == "-" else rest
            prerelease, _, build = rest.partition("+")
        build = build.replace("+", ".")
    return SemVer(
        numbers[0], numbers[1], numbers[2], _identifiers(prerelease, "pre-release"), _identifiers(build, "build")
    )


def normalize(text: str) -> str:
    return str(parse(text))
