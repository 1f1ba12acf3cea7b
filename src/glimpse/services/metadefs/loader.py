"""``glimpse metadefs load | unload | export``: the JSON files ``glance-manage db load_metadefs`` reads.

One file holds one namespace with everything in it::

    {"namespace": "...", "display_name": "...", "description": "...", "visibility": "public",
     "protected": true, "owner": "admin",
     "resource_type_associations": [{"name": "OS::Glance::Image", "prefix": "hw_"}],
     "properties": {"name": {"title": "...", "type": "string", ...}},
     "objects": [{"name": "...", "description": "...", "required": [...], "properties": {...}}],
     "tags": [{"name": "..."}]}

Loading follows Glance: a namespace already in the database is skipped, unless ``merge`` (then what it
lacks is added; with ``prefer_new`` what both have takes the file's values; with ``overwrite`` the namespace
is replaced by the file's). Each file is loaded in one transaction, so a bad file changes nothing.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glimpse.db import Database
from glimpse.db.repositories.metadefs import MetadefRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.metadefs import Association, MetadefObject, Namespace, Property, check_unique_tags, tag_key
from glimpse.errors import GlimpseError
from glimpse.services.metadefs import schemas

log = logging.getLogger(__name__)

DEFAULT_OWNER = "admin"


@dataclass
class LoadReport:
    loaded: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, why)


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such file or directory")
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix == ".json")


def _read(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"not a JSON file: {exc}") from None
    if not isinstance(document, dict):
        raise ValueError("a metadef file holds one JSON object")
    try:
        schemas.validate("namespace", document)
    except GlimpseError as exc:
        raise ValueError(exc.message) from None
    check_unique_tags([str(t.get("name", "")) for t in document.get("tags") or []], str(document["namespace"]))
    return document


def _namespace_values(document: dict[str, Any]) -> dict[str, Any]:
    return {
        "namespace": document["namespace"],
        "display_name": document.get("display_name"),
        "description": document.get("description"),
        "visibility": document.get("visibility") or "private",
        "protected": bool(document.get("protected") or False),
        "owner": document.get("owner") or DEFAULT_OWNER,
    }


def _fill(repo: MetadefRepository, namespace: Namespace, document: dict[str, Any], prefer_new: bool) -> None:
    """Add what the namespace lacks; with ``prefer_new`` also replace what both have. As with Glance's loader,
    what is added has no update time, what is replaced has one."""
    now = utcnow()
    name = namespace.namespace
    linked = {a.name for a in namespace.associations}
    for item in document.get("resource_type_associations") or []:
        association = Association(item["name"], item.get("prefix"), item.get("properties_target"))
        if association.name not in linked:
            repo.add_association(namespace.id, name, association, now, loaded=True)
        elif prefer_new:
            repo.update_association(namespace.id, association, now)
    for prop_name, definition in (document.get("properties") or {}).items():
        exists = repo.find_property(namespace.id, prop_name) is not None
        if not exists or prefer_new:
            prop = Property(prop_name, dict(definition))
            repo.save_property(namespace.id, name, prop, replacing=prop_name if exists else None, now=now, loaded=True)
    for item in document.get("objects") or []:
        exists = repo.find_object(namespace.id, item["name"]) is not None
        if not exists or prefer_new:
            obj = MetadefObject(item["name"], item.get("description"), item.get("required"),
                                dict(item.get("properties") or {}), now, now)  # fmt: skip
            repo.save_object(namespace.id, name, obj, replacing=item["name"] if exists else None, now=now, loaded=True)
    have = {tag_key(t.name) for t in repo.list_tags(namespace.id)}
    new_tags = [t["name"] for t in document.get("tags") or [] if tag_key(t["name"]) not in have]
    if new_tags:
        repo.add_tags(namespace.id, name, new_tags, now, loaded=True)


class MetadefLoader:
    def __init__(self, db: Database) -> None:
        self.db = db

    def load(self, path: Path, *, merge: bool = False, prefer_new: bool = False, overwrite: bool = False) -> LoadReport:
        report = LoadReport()
        for file in _files(path):
            try:
                document = _read(file)
                outcome = self.db.run_sync(
                    functools.partial(
                        self._load_one, document=document, merge=merge, prefer_new=prefer_new, overwrite=overwrite
                    )
                )
            except (ValueError, GlimpseError) as exc:
                why = exc.message if isinstance(exc, GlimpseError) else str(exc)
                log.error("metadef file %s not loaded: %s", file, why)
                report.failed.append((file.name, why))
                continue
            getattr(report, outcome).append(document["namespace"])
        return report

    @staticmethod
    def _load_one(session: Any, document: dict[str, Any], merge: bool, prefer_new: bool, overwrite: bool) -> str:
        repo = MetadefRepository(session)
        values = _namespace_values(document)
        existing = repo.find_namespace(values["namespace"])
        if existing is not None and overwrite:
            repo.delete_namespace(existing.id)
            existing = None
        if existing is None:
            created = repo.add_namespace(values, utcnow(), loaded=True)
            _fill(repo, created, document, prefer_new=False)
            return "loaded"
        if not merge:
            return "skipped"
        if prefer_new:
            existing = repo.update_namespace(existing.id, values, utcnow())
        _fill(repo, existing, document, prefer_new)
        return "merged"

    def unload(self) -> int:
        """Remove every namespace and what it holds (the standard resource types stay); how many."""

        def work(session: Any) -> int:
            repo = MetadefRepository(session)
            count = len(repo.namespace_names())
            repo.clear()
            return count

        return self.db.run_sync(work)

    def export(self, directory: Path) -> list[Path]:
        """Write one file per namespace, named after it, in the shape :meth:`load` reads."""
        directory.mkdir(parents=True, exist_ok=True)
        documents = self.db.run_sync(_export_documents)
        written = []
        for document in documents:
            target = directory / (document["namespace"].replace("/", "_") + ".json")
            target.write_text(json.dumps(document, indent=4, ensure_ascii=False) + "\n", encoding="utf-8")
            written.append(target)
        return written


def _export_documents(session: Any) -> list[dict[str, Any]]:
    repo = MetadefRepository(session)
    documents = []
    for name in repo.namespace_names():
        namespace = repo.find_namespace(name)
        assert namespace is not None
        document: dict[str, Any] = {
            key: value
            for key, value in _namespace_values(
                {
                    "namespace": namespace.namespace,
                    "display_name": namespace.display_name,
                    "description": namespace.description,
                    "visibility": namespace.visibility,
                    "protected": namespace.protected,
                    "owner": namespace.owner,
                }
            ).items()
            if value is not None
        }
        if namespace.associations:
            document["resource_type_associations"] = [
                {k: v for k, v in (("name", a.name), ("prefix", a.prefix), ("properties_target", a.properties_target))
                 if v is not None}
                for a in namespace.associations
            ]  # fmt: skip
        properties = {p.name: p.schema for p in repo.list_properties(namespace.id)}
        if properties:
            document["properties"] = properties
        objects = repo.list_objects(namespace.id, "name", "asc")
        if objects:
            document["objects"] = [
                {k: v for k, v in (("name", o.name), ("description", o.description), ("required", o.required),
                                   ("properties", o.properties)) if v is not None}
                for o in objects
            ]  # fmt: skip
        tags = repo.list_tags(namespace.id, "name", "asc")
        if tags:
            document["tags"] = [{"name": t.name} for t in tags]
        documents.append(document)
    return documents
