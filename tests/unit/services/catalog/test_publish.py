"""Publishing a catalog directory, checked by a real TUF client (python-tuf's ngclient over the files)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from tuf.api.exceptions import DownloadHTTPError
from tuf.api.metadata import TargetFile
from tuf.ngclient import FetcherInterface, Updater

from glimpse.domain.catalog import Asset, AssetExists, CatalogError
from glimpse.services.catalog.publish import CatalogRepository


class FileFetcher(FetcherInterface):
    """Serves a repository directory to the Updater as if over HTTP."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _fetch(self, url: str) -> Iterator[bytes]:
        path = self.root / url.removeprefix("https://catalog.test/")
        if not path.is_file():
            raise DownloadHTTPError(f"{url} not found", 404)
        return iter([path.read_bytes()])


def updater(repo: CatalogRepository, client: Path, root: bytes) -> Updater:
    client.mkdir(exist_ok=True)
    return Updater(str(client), "https://catalog.test/metadata/", str(client), "https://catalog.test/targets/",
                   FileFetcher(repo.dir / "repository"), bootstrap=root)  # fmt: skip


@pytest.fixture
def repo(tmp_path: Path) -> CatalogRepository:
    repo = CatalogRepository(tmp_path / "catalog")
    repo.init()
    return repo


def test_a_published_asset_is_verified_and_downloaded_by_a_tuf_client(repo: CatalogRepository, tmp_path: Path) -> None:
    data = tmp_path / "stack.yaml"
    data.write_bytes(b"heat_template_version: 2021-04-16\n")
    asset, added = repo.add(data, kind="heat-template", name="stack", version="1.0", metadata={"license": "MIT"})
    assert added
    assert repo.publish().targets == 2
    client = updater(repo, tmp_path / "client", (repo.metadata_dir / "1.root.json").read_bytes())
    client.refresh()
    info = client.get_targetinfo(asset.path)
    assert info is not None
    assert info.custom["glimpse"]["license"] == "MIT"
    path = client.download_target(info, str(tmp_path / "got"))
    assert Path(path).read_bytes() == data.read_bytes()


def test_an_asset_version_never_changes(repo: CatalogRepository, tmp_path: Path) -> None:
    data = tmp_path / "pkg.zip"
    data.write_bytes(b"one")
    repo.add(data, kind="murano-package", name="pkg", version="1")
    repo.publish()
    assert repo.add(data, kind="murano-package", name="pkg", version="1")[1] is False  # the same bytes: nothing to do
    data.write_bytes(b"two")
    with pytest.raises(AssetExists, match="publish the new file as a new version"):
        repo.add(data, kind="murano-package", name="pkg", version="1")
    assert repo.add(data, kind="murano-package", name="pkg", version="2")[1]
    assert [(a.name, a.version) for a in repo.assets()] == [("pkg", "1"), ("pkg", "2")]


def test_add_reads_no_targets_metadata(
    repo: CatalogRepository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Adding costs the same in a catalog of any size: the name and version are looked up in the index (staged
    or published), never in the whole targets metadata (only publish reads and signs that)."""
    data = tmp_path / "a.yaml"
    data.write_bytes(b"a")
    repo.add(data, kind="heat-template", name="a", version="1")
    repo.publish()
    loaded: list[str] = []
    load = CatalogRepository._load
    monkeypatch.setattr(CatalogRepository, "_load", lambda self, name: loaded.append(name) or load(self, name))
    data.write_bytes(b"b")
    assert repo.add(data, kind="heat-template", name="b", version="1")[1]
    with pytest.raises(AssetExists):
        repo.add(data, kind="heat-template", name="a", version="1")  # published: found in the index
    data.write_bytes(b"c")
    with pytest.raises(AssetExists):
        repo.add(data, kind="heat-template", name="b", version="1")  # staged: found in the draft
    assert not [name for name in loaded if name.endswith("targets.json")]
    monkeypatch.undo()
    assert repo.publish().assets == 2
    assert [(a.name, a.version) for a in repo.assets()] == [("a", "1"), ("b", "1")]
    assert repo.index.staged() == []  # signed now


def test_a_catalog_without_an_index_gets_one_built_once(repo: CatalogRepository, tmp_path: Path) -> None:
    """A catalog made before the index existed (or published from a whole draft a tool wrote) still refuses a
    changed version: its first add builds the index from the published targets."""
    data = tmp_path / "a.yaml"
    data.write_bytes(b"a")
    repo.add(data, kind="heat-template", name="a", version="1")
    repo.publish()
    draft = repo.targets()  # a tool writes a whole draft with one more target (not through add), and publishes it
    target = TargetFile.from_file("assets/tool/1/a.yaml", str(data), ["sha256"])
    target.unrecognized_fields["custom"] = Asset("heat-template", "tool", "1", target.path, "", 1).custom()
    draft.signed.targets[target.path] = target
    draft.to_file(str(repo.draft))
    data.write_bytes(b"other")
    with pytest.raises(AssetExists):  # the whole draft is read while there is one
        repo.add(data, kind="heat-template", name="tool", version="1")
    repo.publish()
    with pytest.raises(AssetExists):  # the index was not current: rebuilt from the published targets
        repo.add(data, kind="heat-template", name="tool", version="1")
    assert repo.index.find("tool", "1") is not None
    assert repo.add(data, kind="heat-template", name="tool", version="2")[1]


def test_two_adds_of_one_version_cannot_both_win(
    repo: CatalogRepository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "a.yaml"
    data.write_bytes(b"first")
    repo.add(data, kind="heat-template", name="a", version="1")
    race = iter([None])  # the second add looked before the first staged its entry
    known = CatalogRepository._known
    monkeypatch.setattr(CatalogRepository, "_known", lambda self, n, v: next(race, known(self, n, v)))
    data.write_bytes(b"second")
    with pytest.raises(AssetExists):  # its exclusive create fails, and it is judged by the first add's entry
        repo.add(data, kind="heat-template", name="a", version="1")
    monkeypatch.undo()
    repo.publish()
    [asset] = repo.assets()
    assert asset.sha256 == hashlib.sha256(b"first").hexdigest()


def test_bad_input_is_refused(repo: CatalogRepository, tmp_path: Path) -> None:
    data = tmp_path / "x"
    data.write_bytes(b"x")
    with pytest.raises(CatalogError, match="not an asset type"):
        repo.add(data, kind="virus", name="x", version="1")
    with pytest.raises(CatalogError, match="NAME@VERSION"):
        repo.add(data, kind="bundle", name="x", version="1", depends=["y"])
    with pytest.raises(CatalogError, match="not empty"):
        repo.init()
    with pytest.raises(CatalogError, match="not a catalog"):
        CatalogRepository(tmp_path / "nothing").publish()


@pytest.mark.parametrize("role", ["root", "targets", "snapshot", "timestamp"])
def test_a_client_that_trusted_the_first_root_follows_a_key_rotation(
    repo: CatalogRepository, tmp_path: Path, role: str
) -> None:
    first_root = (repo.metadata_dir / "1.root.json").read_bytes()
    data = tmp_path / "env.yaml"
    data.write_bytes(b"parameters: {}\n")
    asset, _ = repo.add(data, kind="heat-environment", name="env", version="1")
    repo.publish()
    client = updater(repo, tmp_path / "client", first_root)
    client.refresh()
    offline = tmp_path / "offline.pem"
    [key] = repo.root_keys_dir.glob("root-*.pem")
    key.rename(offline)  # the root key lives off the machine; rotate-keys gets it back explicitly
    with pytest.raises(CatalogError, match="--root-key"):
        repo.rotate_keys(role)
    new_keyid = repo.rotate_keys(role, [offline])
    repo.publish()
    assert repo.root().signed.roles[role].keyids == [new_keyid]
    again = updater(repo, tmp_path / "client", first_root)
    again.refresh()  # walks root 1 -> 2 and accepts metadata signed with the new key
    assert again.get_targetinfo(asset.path) is not None
