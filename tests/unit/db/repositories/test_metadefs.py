"""MetadefRepository on the database under test: paging through ties, visibility in the list query,
associations, and the catalog-wide helpers the loader uses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from glimpse.db import Database
from glimpse.db.repositories.metadefs import MetadefRepository
from glimpse.domain.metadefs import Association, Namespace
from glimpse.errors import Conflict

SAME = datetime(2026, 1, 2, 3, 4, 5)


@pytest.fixture
def db(clean_db: str) -> Iterator[Database]:
    database = Database(clean_db)
    yield database
    database.dispose()


def _add(db: Database, name: str, owner: str = "alpha", visibility: str = "private") -> Namespace:
    values = {"namespace": name, "display_name": None, "description": None, "visibility": visibility,
              "protected": False, "owner": owner}  # fmt: skip
    return db.run_sync(lambda s: MetadefRepository(s).add_namespace(values, SAME))


def _page(db: Database, marker: Namespace | None, **kw: object) -> list[Namespace]:
    args = {"project_id": "alpha", "is_admin": False, "visibility": None, "resource_types": [],
            "sort_key": "created_at", "sort_dir": "desc", "limit": 2, "marker": marker, **kw}  # fmt: skip
    return db.run_sync(lambda s: MetadefRepository(s).list_namespaces(**args))


def test_paging_through_equal_timestamps_sees_each_once(db: Database) -> None:
    for i in range(5):
        _add(db, f"N{i}")
    _add(db, "Theirs", owner="beta")
    _add(db, "Public", owner="beta", visibility="public")
    for direction in ("asc", "desc"):
        seen: list[str] = []
        marker = None
        while True:
            page = _page(db, marker, sort_dir=direction)
            seen += [n.namespace for n in page]
            if len(page) < 2:
                break
            marker = page[-1]
        assert sorted(seen) == ["N0", "N1", "N2", "N3", "N4", "Public"]
        assert len(seen) == len(set(seen))


def test_admin_lists_all_and_filters(db: Database) -> None:
    _add(db, "Mine")
    _add(db, "Theirs", owner="beta")
    everything = _page(db, None, is_admin=True, limit=10)
    assert {n.namespace for n in everything} == {"Mine", "Theirs"}
    assert _page(db, None, project_id=None, limit=10) == []
    assert [n.namespace for n in _page(db, None, is_admin=True, visibility="private", limit=10, sort_key="namespace",
                                        sort_dir="asc")] == ["Mine", "Theirs"]  # fmt: skip


def test_associations_and_resource_types(db: Database) -> None:
    ns = _add(db, "Assoc")
    added = db.run_sync(lambda s: MetadefRepository(s).add_association(ns.id, "Assoc", Association("New::Type", "p_"),
                                                                       SAME))  # fmt: skip
    assert added.prefix == "p_"
    with pytest.raises(Conflict):
        db.run_sync(lambda s: MetadefRepository(s).add_association(ns.id, "Assoc", Association("New::Type"), SAME))
    found = db.run_sync(lambda s: MetadefRepository(s).find_namespace("Assoc"))
    assert found is not None
    assert [a.name for a in found.associations] == ["New::Type"]
    assert db.run_sync(lambda s: MetadefRepository(s).resource_type_in_use("New::Type"))
    created = db.run_sync(lambda s: MetadefRepository(s).ensure_resource_types(["New::Type", "Other::Type"], SAME))
    assert created == 1
    assert _page(db, None, resource_types=["New::Type"], limit=10)[0].namespace == "Assoc"
    db.run_sync(lambda s: MetadefRepository(s).clear())
    names = {r.name for r in db.run_sync(lambda s: MetadefRepository(s).list_resource_types())}
    assert names == {"Other::Type"}  # unprotected types go with the catalog, protected ones stay


def test_rename_to_an_existing_name_is_a_conflict(db: Database) -> None:
    first = _add(db, "First")
    _add(db, "Second")
    values = {"namespace": "Second", "display_name": None, "description": None, "visibility": "private",
              "protected": False, "owner": "alpha"}  # fmt: skip
    with pytest.raises(Conflict, match="duplicate metadata definition namespace"):
        db.run_sync(lambda s: MetadefRepository(s).update_namespace(first.id, values, SAME))
