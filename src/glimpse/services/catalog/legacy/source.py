"""Reading a legacy catalog: an https URL through the guarded fetcher or a local path, files downloaded and
measured, a Murano package's manifest read without extracting it."""

import asyncio
import dataclasses
import hashlib
import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glimpse.domain.legacy_catalog import (
    MAX_MANIFEST,
    LegacySourceError,
    MuranoManifest,
    parse_manifest,
)
from glimpse.services import fetch

CHUNK = 4 * 1024 * 1024
MAX_DOCUMENT = 64 * 1024 * 1024  # an assets document or a bundle
MAX_PACKAGE = 100 * 1024 * 1024  # the murano_packages artifact's blob limit


@dataclass(frozen=True, slots=True)
class Fetched:
    """A downloaded file and what was measured of it."""

    path: Path
    length: int
    md5: str
    sha256: str


class _Source:
    """Where a legacy catalog is: an https URL (read through the guarded fetcher) or a local file/directory."""

    def __init__(self, location: str, policy: fetch.FetchPolicy) -> None:
        self.location = location
        self.policy = policy
        self.remote = "://" in location
        self.label = fetch.redact(location) if self.remote else str(Path(location).resolve())

    def resolve(self, relative: str) -> str:
        """``relative`` inside a repository source (a Murano repository's ``apps/...``)."""
        if self.remote:
            return self.location.rstrip("/") + "/" + relative
        return str(Path(self.location) / relative)

    async def read(self, where: str, limit: int) -> bytes:
        if "://" not in where:
            return await asyncio.to_thread(_read_file, Path(where), limit)
        policy = dataclasses.replace(self.policy, max_bytes=limit)
        parts = []
        async with _opened(where, policy) as stream:
            async for chunk in stream:
                parts.append(chunk)
        return b"".join(parts)

    async def download(self, where: str, target: Path, limit: int, on_bytes: Callable[[int], None]) -> Fetched:
        """``where`` (a URL, through the guarded fetcher; or a local file) into ``target``, measured."""
        md5, sha256, length = hashlib.md5(usedforsecurity=False), hashlib.sha256(), 0
        policy = dataclasses.replace(self.policy, max_bytes=limit)
        target.parent.mkdir(parents=True, exist_ok=True)

        def write(out: Any, block: bytes) -> None:
            md5.update(block)
            sha256.update(block)
            out.write(block)

        with target.open("wb") as out:
            buffer = bytearray()
            async for chunk in self._chunks(where, policy):
                buffer += chunk
                length += len(chunk)
                on_bytes(len(chunk))
                if len(buffer) >= CHUNK:
                    await asyncio.to_thread(write, out, bytes(buffer))
                    buffer.clear()
            await asyncio.to_thread(write, out, bytes(buffer))
        return Fetched(target, length, md5.hexdigest(), sha256.hexdigest())

    async def _chunks(self, where: str, policy: fetch.FetchPolicy) -> AsyncIterator[bytes]:
        if "://" not in where:
            data = await self.read(where, policy.max_bytes or MAX_DOCUMENT)
            yield data
            return
        async with _opened(where, policy) as stream:
            async for chunk in stream:
                yield chunk


class _opened:
    """``async with`` over :func:`fetch.open_stream`: a 404 of a legacy source says which file is missing."""

    def __init__(self, url: str, policy: fetch.FetchPolicy) -> None:
        self.url = url
        self.policy = policy
        self.stream: fetch.RemoteStream | None = None

    async def __aenter__(self) -> fetch.RemoteStream:
        try:
            self.stream = await fetch.open_stream(self.url, self.policy)
        except fetch.RemoteFetchError as exc:
            raise LegacySourceError(exc.message) from exc
        return self.stream

    async def __aexit__(self, *exc: object) -> None:
        if self.stream is not None:
            await self.stream.aclose()


def _read_file(path: Path, limit: int) -> bytes:
    try:
        if path.stat().st_size > limit:
            raise LegacySourceError(f"{path} is larger than {limit} bytes")
        return path.read_bytes()
    except FileNotFoundError:
        raise LegacySourceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise LegacySourceError(f"{path} is a directory") from None
    except OSError as exc:
        raise LegacySourceError(f"{path}: cannot be read ({exc.strerror})") from None


def read_package_manifest(path: Path, where: str) -> MuranoManifest:
    """The manifest of the Murano package (a zip) at ``path``; read, never extracted."""
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                info = archive.getinfo("manifest.yaml")
            except KeyError:
                raise LegacySourceError(f"{where}: not a Murano package: no manifest.yaml at its root") from None
            if info.file_size > MAX_MANIFEST:
                raise LegacySourceError(f"{where}: manifest.yaml is larger than {MAX_MANIFEST} bytes")
            raw = archive.read(info)
    except zipfile.BadZipFile:
        raise LegacySourceError(f"{where}: not a Murano package: not a zip archive") from None
    return parse_manifest(raw, where)


def _ignore(size: int) -> None:
    pass
