"""Publishing a catalog: a directory holding signed TUF metadata, the asset files, and the keys that sign them.

Layout of a catalog directory (``glimpse catalog init DIR``)::

    DIR/keys/{targets,snapshot,timestamp}.pem     online keys: used by every `publish`
    DIR/root-keys/root-<keyid>.pem                the offline root key: move it off this machine after
                                                  `init` and hand it back with --root-key to `rotate-keys`
    DIR/index.sqlite                              every asset's target by name and version: staged by `add`
                                                  since the last `publish` (unsigned), or published
    DIR/draft/targets.json                        a whole unsigned targets draft (`init`; tools may write one)
    DIR/repository/metadata/                      what is served: N.root.json, N.targets.json,
                                                  N.snapshot.json, timestamp.json (consistent snapshots)
    DIR/repository/targets/assets/NAME/VERSION/<sha256>.<file>   the asset files, named by their digest

Every signature, expiry and version number is made by python-tuf's Metadata API, so a TUF client (ours:
``services/catalog/subscribe.py``) checks exactly what the TUF specification says: thresholds, expiry,
rollback and freeze of the timestamp, mix-and-match of snapshots, and the length and sha256 of every file.
An asset version is immutable: adding a file with other bytes under a name and version already published
is refused (:class:`AssetExists`); a new version is the only way.

`add` costs the same whatever the size of the catalog (O(log N)): it hashes the file, looks its name and version
up in the index (:mod:`.index`) and inserts it there as staged (an insert that fails when another add took the
version meanwhile, so two adds of one version cannot both win). Only `publish` reads and writes the whole
targets metadata: the draft or the published targets plus every staged target, signed as the next version. A
catalog whose index is not known to be complete (made before the index existed, or published from a whole
draft a tool wrote) gets it rebuilt from the published targets by its next `add`, once.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp
from tuf.api.serialization.json import JSONSerializer

from glimpse.domain.catalog import Asset, AssetExists, AssetRef, CatalogError, check_name, check_type, check_version
from glimpse.services.catalog.index import AssetIndex

ONLINE_ROLES = ("targets", "snapshot", "timestamp")
ROLES = ("root", *ONLINE_ROLES)
EXPIRY = {"root": timedelta(days=365), "targets": timedelta(days=90), "snapshot": timedelta(days=7),
          "timestamp": timedelta(days=1)}  # fmt: skip
_SERIALIZER = JSONSerializer(compact=False)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _write_key(path: Path, signer: CryptoSigner) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_bytes(signer.private_bytes)
    path.chmod(0o600)


def load_signer(path: Path) -> CryptoSigner:
    """A private key file written by `init` or `rotate-keys`."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), None)
    except (OSError, ValueError, TypeError) as exc:
        raise CatalogError(f"Cannot read the key {path}: {exc}") from exc
    return CryptoSigner(key)


@dataclass(frozen=True, slots=True)
class Published:
    """What a publish wrote: the version of each role."""

    root: int
    targets: int
    snapshot: int
    timestamp: int
    assets: int


class CatalogRepository:
    """One catalog directory: `init`, `add`, `publish`, `rotate_keys`."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.metadata_dir = directory / "repository" / "metadata"
        self.targets_dir = directory / "repository" / "targets"
        self.keys_dir = directory / "keys"
        self.root_keys_dir = directory / "root-keys"
        self.draft = directory / "draft" / "targets.json"
        self.index = AssetIndex(directory / "index.sqlite")

    def close(self) -> None:
        self.index.close()

    # -- reading -------------------------------------------------------------------------------------------
    def _check_exists(self) -> None:
        if not (self.metadata_dir / "root.json").is_file():
            raise CatalogError(f"{self.dir} is not a catalog: run `glimpse catalog init {self.dir}` first")

    def _load(self, name: str) -> Metadata[Any]:
        return Metadata.from_file(str(self.metadata_dir / name))

    def root(self) -> Metadata[Root]:
        self._check_exists()
        return self._load("root.json")

    def timestamp(self) -> Metadata[Timestamp]:
        return self._load("timestamp.json")

    def snapshot(self) -> Metadata[Snapshot]:
        return self._load(f"{self.timestamp().signed.snapshot_meta.version}.snapshot.json")

    def _published_version(self) -> int:
        return self.snapshot().signed.meta["targets.json"].version

    def _base(self) -> Metadata[Targets]:
        """The whole draft when there is one, else the published targets."""
        if self.draft.is_file():
            return Metadata.from_file(str(self.draft))
        return self._load(f"{self._published_version()}.targets.json")

    def targets(self) -> Metadata[Targets]:
        """What the next publish signs: the draft (or else the published targets) with every staged asset."""
        self._check_exists()
        md = self._base()
        for target in self.index.staged():
            md.signed.targets[target.path] = target
        return md

    def assets(self) -> list[Asset]:
        return _assets(self.targets())

    def _known(self, name: str, version: str) -> Asset | None:
        """``name@version`` as staged or published: one keyed lookup, whatever the catalog's size (a whole draft
        written by a tool is read whole)."""
        if self.draft.is_file():
            found = next((a for a in _assets(self._base()) if (a.name, a.version) == (name, version)), None)
            if found is not None:
                return found
        elif self.index.complete_for() != self._published_version():
            version_now = self._published_version()
            published = self._load(f"{version_now}.targets.json").signed.targets.values()
            entries = ((a.name, a.version, t) for t in published if (a := _asset_of(t)) is not None)
            self.index.rebuild(entries, version_now)
        target = self.index.find(name, version)
        return _asset_of(target) if target is not None else None

    def signer(self, role: str) -> CryptoSigner:
        return load_signer(self.keys_dir / f"{role}.pem")

    def root_signers(self, key_files: Sequence[Path] = ()) -> list[CryptoSigner]:
        files = list(key_files) or sorted(self.root_keys_dir.glob("root-*.pem"))
        if not files:
            raise CatalogError(f"No root key: give the offline root key with --root-key (none in {self.root_keys_dir})")
        return [load_signer(f) for f in files]

    # -- writing -------------------------------------------------------------------------------------------
    def _write(self, md: Metadata[Any], *names: str) -> None:
        self.metadata_dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            tmp = self.metadata_dir / f".{name}.tmp"
            md.to_file(str(tmp), _SERIALIZER)
            tmp.replace(self.metadata_dir / name)

    def init(self) -> Root:
        """Make the keys and publish an empty catalog (root, targets, snapshot, timestamp all at version 1)."""
        if self.dir.exists() and any(self.dir.iterdir()):
            raise CatalogError(f"{self.dir} is not empty")
        signers = {role: CryptoSigner.generate_ed25519() for role in ROLES}
        root = Root(expires=_now() + EXPIRY["root"])
        for role, signer in signers.items():
            root.add_key(signer.public_key, role)
        for role in ONLINE_ROLES:
            _write_key(self.keys_dir / f"{role}.pem", signers[role])
        _write_key(self.root_keys_dir / f"root-{signers['root'].public_key.keyid[:16]}.pem", signers["root"])
        md = Metadata(root)
        md.sign(signers["root"])
        self._write(md, "1.root.json", "root.json")
        targets = Metadata(Targets(expires=_now() + EXPIRY["targets"]))
        self.draft.parent.mkdir(parents=True, exist_ok=True)
        targets.to_file(str(self.draft), _SERIALIZER)
        self.publish(bump_targets=False)
        self.index.published(targets.signed.version, complete=True)  # nothing published yet: complete
        return root

    def add(self, file: Path, *, kind: str, name: str, version: str, depends: Sequence[str] = (),
            metadata: dict[str, str] | None = None) -> tuple[Asset, bool]:  # fmt: skip
        """Stage ``file`` as asset ``name@version``; (the asset, False when exactly it was already there).

        Refused when ``name@version`` exists with other bytes: versions are immutable.
        """
        check_type(kind)
        check_name(name)
        check_version(version)
        refs = tuple(AssetRef.parse(d) for d in depends)
        if not file.is_file():
            raise CatalogError(f"{file} is not a file")
        self._check_exists()
        path = f"assets/{name}/{version}/{file.name}"
        new = TargetFile.from_file(path, str(file), ["sha256"])
        asset = Asset(kind, name, version, path, new.hashes["sha256"], new.length, refs, dict(metadata or {}))
        new.unrecognized_fields["custom"] = asset.custom()
        while True:
            existing = self._known(name, version)
            if existing is not None:
                if existing.sha256 == new.hashes["sha256"] and existing.path == path:
                    return existing, False
                raise AssetExists(
                    f"Asset {name}@{version} is already published with sha256 {existing.sha256}; an asset version "
                    "never changes: publish the new file as a new version"
                )
            stored = self.targets_dir / "assets" / name / version / f"{new.hashes['sha256']}.{file.name}"
            stored.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, stored)
            if self.index.stage(name, version, new):
                return asset, True
            # another add staged this version meanwhile: judged like any existing one

    def publish(self, *, expires: dict[str, timedelta] | None = None, bump_targets: bool = True) -> Published:
        """Sign the draft as the next targets version, then a new snapshot and timestamp over it."""
        expiry = {**EXPIRY, **(expires or {})}
        now = _now()
        root = self.root()
        targets = self.targets()
        has_published = (self.metadata_dir / "timestamp.json").is_file()
        snapshot = self.snapshot() if has_published else Metadata(Snapshot())
        timestamp = self.timestamp() if has_published else Metadata(Timestamp())
        index_complete = (has_published and not self.draft.is_file()
                          and self.index.complete_for() == snapshot.signed.meta["targets.json"].version)  # fmt: skip
        if has_published and bump_targets:
            targets.signed.version = snapshot.signed.meta["targets.json"].version + 1
        targets.signed.expires = now + expiry["targets"]
        targets.sign(self.signer("targets"))
        self._write(targets, f"{targets.signed.version}.targets.json")
        if has_published:
            snapshot.signed.version += 1
        snapshot.signed.meta["targets.json"] = MetaFile(version=targets.signed.version)
        snapshot.signed.expires = now + expiry["snapshot"]
        snapshot.sign(self.signer("snapshot"))
        self._write(snapshot, f"{snapshot.signed.version}.snapshot.json")
        if has_published:
            timestamp.signed.version += 1
        timestamp.signed.snapshot_meta = MetaFile(version=snapshot.signed.version)
        timestamp.signed.expires = now + expiry["timestamp"]
        timestamp.sign(self.signer("timestamp"))
        self._write(timestamp, "timestamp.json")
        self.index.published(targets.signed.version, complete=index_complete)  # the staged are signed now
        self.draft.unlink(missing_ok=True)
        return Published(root.signed.version, targets.signed.version, snapshot.signed.version,
                         timestamp.signed.version, len(_assets(targets)))  # fmt: skip

    def rotate_keys(self, role: str, root_key_files: Sequence[Path] = ()) -> str:
        """Replace ``role``'s key: a new root version (signed by the current root key, and for root by the
        new one too) names the new key, then everything is published again. Returns the new key id."""
        if role not in ROLES:
            raise CatalogError(f"{role!r} is not a role; one of: {', '.join(ROLES)}")
        md = self.root()
        current = self.root_signers(root_key_files)
        new = CryptoSigner.generate_ed25519()
        for keyid in list(md.signed.roles[role].keyids):
            md.signed.revoke_key(keyid, role)
        md.signed.add_key(new.public_key, role)
        md.signed.version += 1
        md.signed.expires = _now() + EXPIRY["root"]
        md.signatures.clear()
        for signer in [*current, new] if role == "root" else current:
            md.sign(signer, append=True)
        if role == "root":
            _write_key(self.root_keys_dir / f"root-{new.public_key.keyid[:16]}.pem", new)
            for old in current:
                for file in self.root_keys_dir.glob(f"root-{old.public_key.keyid[:16]}.pem"):
                    file.unlink()
        else:
            _write_key(self.keys_dir / f"{role}.pem", new)
        self._write(md, f"{md.signed.version}.root.json", "root.json")
        if role != "root":  # the role's metadata must be signed by its new key
            self.publish(bump_targets=role == "targets")
        return str(new.public_key.keyid)

    def describe(self) -> dict[str, Any]:
        root = self.root().signed
        return {
            "root_version": root.version,
            "keys": {role: list(root.roles[role].keyids) for role in ROLES},
            "assets": [json.loads(json.dumps({**a.custom()["glimpse"], "sha256": a.sha256, "length": a.length}))
                       for a in self.assets()],
        }  # fmt: skip


def _assets(md: Metadata[Targets]) -> list[Asset]:
    found = (_asset_of(t) for t in md.signed.targets.values())
    return sorted((a for a in found if a is not None), key=lambda a: (a.name, a.version))


def _asset_of(target: TargetFile) -> Asset | None:
    return Asset.from_target(target.path, target.length, target.hashes, target.custom)
