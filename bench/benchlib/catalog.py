"""A published catalog of N small assets, written straight into the draft (not N `catalog add` calls)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tuf.api.metadata import Metadata, TargetFile

from glimpse.domain.catalog import Asset
from glimpse.services.catalog.publish import CatalogRepository


def build_catalog(directory: Path, count: int, kinds: Sequence[str] = ("heat-template",)) -> CatalogRepository:
    """``glimpse catalog init DIRECTORY``, then ``count`` targets signed by one `publish`; asset ``i`` is of type
    ``kinds[i % len(kinds)]``, named ``asset-<i>``."""
    repo = CatalogRepository(directory)
    repo.init()
    draft: Metadata = repo.targets()  # type: ignore[type-arg]
    for i in range(count):
        asset = Asset(kinds[i % len(kinds)], f"asset-{i:05d}", "1.0", f"assets/asset-{i:05d}/1.0/t.yaml",
                      f"{i:064x}", 100, (), {"description": f"benchmark asset {i}"})  # fmt: skip
        target = TargetFile(100, {"sha256": asset.sha256}, asset.path)
        target.unrecognized_fields["custom"] = asset.custom()
        draft.signed.targets[asset.path] = target
    repo.draft.parent.mkdir(parents=True, exist_ok=True)
    draft.to_file(str(repo.draft))
    repo.publish()
    return repo
