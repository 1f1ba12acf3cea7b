"""Artifacts: create, show, list, JSON-patch update (with the lifecycle and publishing), delete (at once, or with
``delayed_delete`` marked ``deleted`` for the scrubber, ``scrubber.py``).

Every method reads top to bottom: find the type, policy, load what the caller may see, validate, then the
repository work in one transaction. Writes that change an artifact's scope (type, name, version, owner or
public) hold that scope's lock row while they check that nothing else occupies it, and updates hold the
artifact's own lock row, so concurrent requests cannot break uniqueness or lose each other's changes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from glimpse.context import RequestContext
from glimpse.db import Database
from glimpse.db.repositories.artifacts import ArtifactRecord, ArtifactRepository, Viewer, scope_id
from glimpse.domain.artifacts import lifecycle, semver
from glimpse.domain.artifacts import patch as json_patch
from glimpse.domain.artifacts.fields import Field, link_target
from glimpse.domain.artifacts.queries import parse_list_query
from glimpse.domain.artifacts.types import BASE_COLUMNS, DEFAULT_VERSION, ArtifactType
from glimpse.domain.clock import isoformat, utcnow
from glimpse.domain.images import new_id
from glimpse.domain.tasks import Task, TaskStatus, TaskType
from glimpse.errors import BadRequest, Conflict, Forbidden
from glimpse.policy import Policy
from glimpse.policy.engine import Target
from glimpse.services.artifacts.quotas import ArtifactQuotas
from glimpse.services.artifacts.registry import ArtifactTypes
from glimpse.services.task_queue import TASK_TTL, TaskQueue
from glimpse.settings import Settings

T = TypeVar("T")
BLOB_KEYS = ("url", "size", "md5", "sha1", "sha256", "external", "status", "content_type")
_DATETIMES = ("created_at", "updated_at", "activated_at")


@dataclass(frozen=True, slots=True)
class ArtifactPage:
    artifacts: list[dict[str, Any]]
    total_count: int | None  # None for a summary list
    next_marker: str | None


def blob_view(
    kind: type[ArtifactType], artifact_id: str, name: str, key: str, blob: Mapping[str, Any]
) -> dict[str, Any]:
    """A blob as clients see it: an uploaded blob's URL is its download path, never the store's."""
    view = {item: blob.get(item) for item in BLOB_KEYS}
    if not blob.get("external"):
        view["url"] = f"/artifacts/{kind.type_name}/{artifact_id}/{name}" + (f"/{key}" if key else "")
    return view


class ArtifactService:
    def __init__(
        self, settings: Settings, db: Database, policy: Policy, types: ArtifactTypes, queue: TaskQueue | None = None
    ) -> None:
        self.settings = settings
        self.db = db
        self.policy = policy
        self.types = types
        self.queue = queue or TaskQueue(db)
        # drops an artifact's references to stored blob data in the deleting transaction (BlobService.release)
        self.release_blobs: Callable[[Any, list[str]], None] | None = None
        self.quotas = ArtifactQuotas(settings, db, policy, types)

    # -- helpers ---------------------------------------------------------------------------------------
    def is_admin(self, ctx: RequestContext) -> bool:
        return self.policy.check(ctx, "context_is_admin", Target())

    def allowed(self, ctx: RequestContext, rule: str, target: Mapping[str, Any] | None = None) -> bool:
        return self.policy.check(ctx, rule, Target(attributes=dict(target or {})))

    def enforce(self, ctx: RequestContext, rule: str, target: Mapping[str, Any] | None = None) -> None:
        if not self.allowed(ctx, rule, target):
            raise Forbidden(f"Policy check for {rule} failed.")

    def viewer(self, ctx: RequestContext, any_rule: str | None = None) -> Viewer:
        every = self.is_admin(ctx) or (any_rule is not None and self.allowed(ctx, any_rule))
        return Viewer(project_id=ctx.project_id, all_projects=every)

    def present(self, kind: type[ArtifactType], record: ArtifactRecord) -> dict[str, Any]:
        """The artifact as the API shows it: every field of its type (or, for ``all``, the base fields and
        the type's name), blobs with their download paths."""
        real = self.types.find(record.columns["type_name"]) if kind.is_all else kind
        values: dict[str, Any] = {}
        for name, item in kind.all_fields().items():
            if name in BASE_COLUMNS or name == "type_name":
                value = record.columns.get(name)
                if name in _DATETIMES and isinstance(value, datetime):
                    value = isoformat(value)
                values[name] = value
            elif name == "tags":
                values[name] = list(record.tags)
            elif item.is_blob:
                blob = record.blobs.get(name, {}).get("")
                values[name] = blob_view(kind, record.id, name, "", blob) if blob else None
            elif item.is_folder:
                folder = record.blobs.get(name, {})
                values[name] = {
                    key: blob_view(kind, record.id, name, key, blob) for key, blob in sorted(folder.items())
                }
            elif name in record.properties:
                values[name] = record.properties[name]
            else:  # no value stored (never set, or set to null): the field's default, as Glare shows it
                values[name] = _copy(item.default)
        return real.decorate(values) if real is not None else values

    def _run(self, work: Callable[[ArtifactRepository], T]) -> Any:
        return self.db.run(lambda session: work(ArtifactRepository(session)))

    def load_for_write(
        self, ctx: RequestContext, repo: ArtifactRepository, kind: type[ArtifactType], artifact_id: str
    ) -> ArtifactRecord:
        record = repo.get(artifact_id, kind.type_name, self.viewer(ctx))
        if not self.is_admin(ctx) and ctx.project_id != record.columns["owner"]:
            raise Forbidden("Only the artifact's owner may modify it.")
        return record

    def _check_links(self, ctx: RequestContext, repo: ArtifactRepository, item: Field, name: str, value: Any) -> None:
        if item.value_kind != "Link" or value is None:
            return
        links = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else [value]
        viewer = self.viewer(ctx, "artifact:get_any_artifact")
        for link in links:
            target = link_target(link) if link is not None else None
            if target is not None and not repo.exists(target[1], None, viewer):
                raise BadRequest(
                    f"Link {link} is not valid in field {name}, because artifact with id {target[1]} doesn't exist"
                )

    @staticmethod
    def _coerce(kind: type[ArtifactType], item: Field, name: str, value: Any) -> Any:
        try:
            return item.coerce(value)
        except ValueError as exc:
            raise BadRequest(f"Type: {kind.type_name}. Field: {name}. Exception: {exc}") from None

    def _claim_scope(
        self,
        repo: ArtifactRepository,
        kind: type[ArtifactType],
        values: Mapping[str, Any],
        artifact_id: str,
        now: datetime,
    ) -> str:
        """Lock the artifact's scope and check that no other artifact holds it (409); returns the lock id."""
        scope = scope_id(kind.type_name, values["name"], values["version"], values["owner"], values["visibility"])
        repo.lock_scope(scope, now)
        if repo.scope_taken(
            kind.type_name, values["name"], semver.parse(values["version"]), values["owner"], values["visibility"],
            artifact_id,
        ):  # fmt: skip
            raise Conflict("Artifact with this name and version is already exists for this scope.")
        return scope

    # -- use cases -------------------------------------------------------------------------------------
    def schemas(self, ctx: RequestContext, type_name: str | None = None) -> dict[str, Any]:
        self.enforce(ctx, "artifact:type_list")
        if type_name is None:
            return {kind.type_name: kind.schema() for kind in self.types}
        return {type_name: self.types.get(type_name).schema()}

    async def create(self, ctx: RequestContext, type_name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        kind = self.types.get(type_name)
        self.enforce(ctx, "artifact:create", body)
        if ctx.project_id is None:
            raise Forbidden("It's forbidden to anonymous users to create artifacts.")
        if kind.is_all:
            raise Forbidden("This type is read only.")
        if not body.get("name"):
            raise BadRequest("Name must be specified at creation.")
        for name in ("visibility", "status", "display_type_name"):
            if name in body:
                raise BadRequest(f"{name} is not allowed in a request at creation.")
        now = utcnow()
        artifact_id = str(uuid.uuid4())
        columns: dict[str, Any] = {
            "id": artifact_id,
            "type_name": kind.type_name,
            "owner": ctx.project_id,
            "status": "drafted",
            "visibility": "private",
            "display_type_name": kind.display_type_name,
            "created_at": now,
            "updated_at": now,
            "activated_at": None,
            "description": "",
            "version": DEFAULT_VERSION,
        }
        properties: dict[str, tuple[Field, Any]] = {
            name: (item, _copy(item.default))
            for name, item in kind.fields.items()
            if not (item.is_blob or item.is_folder)
        }
        properties["metadata"] = (kind.all_fields()["metadata"], {})
        tags: list[str] = []
        for name, value in body.items():
            item = kind.field(name)
            if item is not None and (item.is_blob or item.is_folder):
                raise BadRequest("Cannot add blob with this request. Use special Blob API for that.")
            lifecycle.check_change_allowed(kind, "drafted", name)
            assert item is not None
            coerced = self._coerce(kind, item, name, value)
            if name == "tags":
                tags = list(coerced or [])
            elif name in BASE_COLUMNS:
                columns[name] = coerced
            else:
                properties[name] = (item, coerced)

        def work(repo: ArtifactRepository) -> ArtifactRecord:
            assert ctx.project_id is not None
            self.quotas.check_create(repo.session, ctx.project_id, kind.type_name)
            for name, (item, value) in properties.items():
                self._check_links(ctx, repo, item, name, value)
            scope = self._claim_scope(repo, kind, columns, artifact_id, now)
            repo.create(columns, properties, tags)
            repo.unlock_scope(scope)
            return repo.get(artifact_id, kind.type_name, Viewer(None, all_projects=True))

        record = await self._run(work)
        return self.present(kind, record)

    async def show(self, ctx: RequestContext, type_name: str, artifact_id: str) -> dict[str, Any]:
        kind = self.types.get(type_name)
        viewer = self.viewer(ctx, "artifact:get_any_artifact")
        self.enforce(ctx, "artifact:get")
        record = await self._run(lambda repo: repo.get(artifact_id, None if kind.is_all else kind.type_name, viewer))
        return self.present(kind, record)

    async def list(self, ctx: RequestContext, type_name: str, params: Sequence[tuple[str, str]], *,
                   summary: bool = False) -> ArtifactPage:  # fmt: skip
        """A page of the artifacts of ``type_name`` the caller may see, filtered, sorted and paged by ``params``.
        ``summary`` (the dashboard's list): each artifact's base fields and tags only (as type ``all`` shows
        them), and no total count; two queries instead of five."""
        kind = self.types.get(type_name)
        viewer = self.viewer(ctx, "artifact:list_all_artifacts")
        self.enforce(ctx, "artifact:list")
        query = parse_list_query(kind, params, self.settings.default_api_limit, self.settings.max_api_limit)
        by_property = any(not key.column for key in query.sort)

        def work(repo: ArtifactRepository) -> tuple[list[ArtifactRecord], int | None]:
            marker = None
            if query.marker is not None:
                marker = repo.get(query.marker, None, viewer, details=not summary or by_property)
            return repo.search(query, None if kind.is_all else kind.type_name, viewer, marker, summary=summary)

        records, total = await self._run(work)
        shown = self.types.get("all") if summary else kind
        artifacts = [self.present(shown, record) for record in records]
        next_marker = artifacts[-1]["id"] if artifacts and len(artifacts) == query.limit else None
        return ArtifactPage(artifacts, total, next_marker)

    async def update(self, ctx: RequestContext, type_name: str, artifact_id: str, body: object) -> dict[str, Any]:
        kind = self.types.get(type_name)
        operations = json_patch.parse(body)
        if kind.is_all:
            raise Forbidden("This type is read only.")

        def work(repo: ArtifactRepository) -> ArtifactRecord:
            now = utcnow()
            own_lock = scope_id(kind.type_name, "artifact", artifact_id, None, "public")
            repo.lock_scope(own_lock, now)
            record = self.load_for_write(ctx, repo, kind, artifact_id)
            current = self.present(kind, record)
            self.enforce(ctx, "artifact:update", current)
            changed = self._apply(ctx, kind, current, operations)
            if not changed:
                repo.unlock_scope(own_lock)
                return record
            for name, value in changed.items():
                item = kind.field(name)
                assert item is not None
                self._check_links(ctx, repo, item, name, value)
            columns = {name: value for name, value in changed.items() if name in BASE_COLUMNS}
            columns["updated_at"] = now
            if changed.get("status") == "active" and current["status"] == "drafted":
                columns["activated_at"] = now
            scope = None
            if any(name in changed for name in ("name", "version", "visibility")):
                merged = {**current, **changed}
                scope = self._claim_scope(repo, kind, merged, artifact_id, now)
            repo.update_columns(artifact_id, columns)
            if "tags" in changed:
                repo.set_tags(artifact_id, changed["tags"] or [])
            properties = {
                name: (item, value)
                for name, value in changed.items()
                if name not in BASE_COLUMNS and name != "tags" and (item := kind.field(name)) is not None
            }
            repo.set_properties(artifact_id, properties)
            if scope is not None:
                repo.unlock_scope(scope)
            repo.unlock_scope(own_lock)
            return repo.get(artifact_id, kind.type_name, Viewer(None, all_projects=True))

        record = await self._run(work)
        return self.present(kind, record)

    def _apply(
        self,
        ctx: RequestContext,
        kind: type[ArtifactType],
        current: dict[str, Any],
        operations: Sequence[json_patch.Operation],
    ) -> dict[str, Any]:
        """Apply the patch to the artifact's document; the fields whose values change, coerced."""
        document = current
        status, visibility = current["status"], current["visibility"]
        changed: dict[str, Any] = {}
        for operation in operations:
            document = json_patch.apply(document, operation)
            names = [operation.path[0]]
            if operation.op == "move" and operation.source:
                names.append(operation.source[0])
            for name in names:
                item = kind.field(name)
                if item is not None and (item.is_blob or item.is_folder):
                    raise BadRequest("Cannot add blob with this request. Use special Blob API for that.")
                if len(operation.path) == 1 and operation.op == "remove":
                    raise BadRequest(f"Cannot remove field '{name}' from artifact.")
                if name == "visibility":
                    action = lifecycle.check_visibility_change(status, visibility, str(document.get(name)))
                    if action == "publish":
                        self.enforce(ctx, "artifact:publish", current)
                elif name == "status":
                    action = lifecycle.check_status_change(kind, document, status, str(document.get(name)))
                    if action != "update":
                        self.enforce(ctx, f"artifact:{action}", current)
                else:
                    lifecycle.check_change_allowed(kind, status, name)
                assert item is not None
                value = self._coerce(kind, item, name, document.get(name))
                document[name] = value
                if value != current.get(name):
                    changed[name] = value
                else:
                    changed.pop(name, None)
                if name == "status":
                    status = value
                elif name == "visibility":
                    visibility = value
        return changed

    async def delete(self, ctx: RequestContext, type_name: str, artifact_id: str) -> None:
        kind = self.types.get(type_name)
        if kind.is_all:
            raise Forbidden("This type is read only.")

        def work(repo: ArtifactRepository) -> None:
            record = self.load_for_write(ctx, repo, kind, artifact_id)
            self.enforce(ctx, "artifact:delete", self.present(kind, record))
            blobs = [blob for folder in record.blobs.values() for blob in folder.values()]
            if any(blob["status"] == "saving" for blob in blobs):
                raise Conflict("Cannot delete an artifact while one of its blobs is being uploaded.")
            if not self.delayed_delete(kind):
                self.remove(repo, record)
            elif record.columns["status"] != "deleted":  # listed no more, shown as deleted until scrubbed
                now = utcnow()
                repo.update_columns(artifact_id, {"status": "deleted", "updated_at": now})
                self.queue.enqueue(
                    repo.session,
                    Task(
                        id=new_id(), type=TaskType.ARTIFACT_SCRUB, status=TaskStatus.PENDING, owner=None,
                        created_at=now, updated_at=now, expires_at=now + TASK_TTL, input={"artifact_id": artifact_id},
                    ),
                )  # fmt: skip

        await self._run(work)

    def delayed_delete(self, kind: type[ArtifactType]) -> bool:
        """The type's ``delayed_delete`` ([artifact_type:<name>]), else the global one."""
        options = self.settings.artifact_types.get(kind.type_name)
        if options is not None and options.delayed_delete is not None:
            return options.delayed_delete
        return self.settings.delayed_delete

    def remove(self, repo: ArtifactRepository, record: ArtifactRecord) -> None:
        """The artifact's rows go, and its references to stored blob data (in this transaction)."""
        blobs = [blob for folder in record.blobs.values() for blob in folder.values()]
        repo.delete(record.id)
        held = [b["sha256"] for b in blobs if b["sha256"] and not b["external"] and not b["url"]]
        if held and self.release_blobs is not None:
            self.release_blobs(repo.session, held)


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value
