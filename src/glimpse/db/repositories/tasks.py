"""Task persistence and claiming: two workers never run the same task."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, insert, or_, select, true, tuple_, update
from sqlalchemy.orm import Session

from glimpse.context import RequestContext
from glimpse.db.models import TaskRow
from glimpse.domain.tasks import PUBLIC_TYPES, Task, TaskStatus, TaskType
from glimpse.errors import BadRequest, NotFound

_TASKS = cast(Table, TaskRow.__table__)
_INSERT = insert(_TASKS)

# the columns tasks may be sorted by (Glance sorts by any column of its tasks table)
SORT_KEYS = ("id", "type", "status", "owner", "image_id", "user_id", "request_id", "expires_at", "created_at",
             "updated_at")  # fmt: skip
_EMPTY: dict[str, Any] = {  # what an empty value sorts as: first, like the smallest value
    "owner": "", "image_id": "", "user_id": "", "request_id": "", "expires_at": datetime(1970, 1, 1),
}  # fmt: skip


def _sort_columns(sort_key: str) -> list[Any]:
    if sort_key not in SORT_KEYS:
        raise BadRequest("Sort key supplied was not valid.")
    names = [sort_key, *(name for name in ("created_at", "id") if name != sort_key)]
    return [getattr(TaskRow, name) for name in names]


def _filled(column: Any, value: Any) -> Any:
    if hasattr(value, "value"):  # an enum of the domain task
        value = value.value
    return _EMPTY[column.key] if value is None and column.key in _EMPTY else value


def to_domain(row: Any) -> Task:
    """A task from a ``TaskRow`` or a Core row of ``tasks`` (the same names)."""
    return Task(
        id=row.id,
        type=TaskType(row.type),
        status=TaskStatus(row.status),
        owner=row.owner,
        created_at=row.created_at,
        updated_at=row.updated_at,
        input=dict(row.input or {}),
        result=dict(row.result) if row.result is not None else None,
        message=row.message or "",
        image_id=row.image_id,
        user_id=row.user_id,
        request_id=row.request_id,
        expires_at=row.expires_at,
        attempts=row.attempts,
        bytes_done=row.bytes_done,
        bytes_total=row.bytes_total,
        claimed_by=row.claimed_by,
        node=row.node,
    )


def _visible(viewer: RequestContext | None) -> Any:
    """What a caller of the tasks API sees (None: the system itself, which sees every task). Internal tasks
    (outbox drains) are never shown, as Glance shows only its own task types."""
    if viewer is None:
        return true()
    public = TaskRow.type.in_(sorted(t.value for t in PUBLIC_TYPES))
    if viewer.is_admin:
        return public
    return and_(public, TaskRow.owner == viewer.project_id)


class TaskRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, task: Task) -> None:
        """One INSERT (Core: a drain or a dispatch enqueues one per burst of events)."""
        self.session.execute(_INSERT, {
            "id": task.id, "type": task.type.value, "status": task.status.value, "owner": task.owner,
            "image_id": task.image_id, "user_id": task.user_id, "request_id": task.request_id,
            "input": task.input, "result": task.result, "message": task.message, "created_at": task.created_at,
            "updated_at": task.updated_at, "expires_at": task.expires_at, "attempts": task.attempts,
            "bytes_done": task.bytes_done, "bytes_total": task.bytes_total, "node": task.node,
            "claimed_by": None, "heartbeat_at": None,
        })  # fmt: skip

    def has_pending(self, task_type: TaskType) -> bool:
        """Whether a task of ``task_type`` waits to run (a periodic job enqueues no second one)."""
        stmt = select(TaskRow.id).where(TaskRow.type == task_type.value, TaskRow.status == TaskStatus.PENDING.value)
        return self.session.scalar(stmt.limit(1)) is not None

    def get(self, task_id: str, viewer: RequestContext | None) -> Task:
        row = self.session.scalars(select(TaskRow).where(TaskRow.id == task_id, _visible(viewer))).one_or_none()
        if row is None:
            raise NotFound(f"Task with the given ID {task_id} not found")
        return to_domain(row)

    def search(
        self,
        viewer: RequestContext,
        *,
        status: str | None,
        type_: str | None,
        sort_dir: str,
        limit: int,
        marker: str | None,
        sort_key: str = "created_at",
    ) -> list[Task]:
        """A page of tasks ordered by ``sort_key`` (one of :data:`SORT_KEYS`), then created_at and id, all in
        ``sort_dir``; empty values sort first."""
        keys = _sort_columns(sort_key)
        ordered = [func.coalesce(column, _EMPTY[column.key]) if column.key in _EMPTY else column for column in keys]
        stmt = select(TaskRow).where(_visible(viewer))
        if status:
            stmt = stmt.where(TaskRow.status == status)
        if type_:
            stmt = stmt.where(TaskRow.type == type_)
        if marker:
            try:
                start = self.get(marker, viewer)
            except NotFound:
                raise BadRequest(f"Invalid marker {marker}: task not found") from None
            values = [_filled(column, getattr(start, column.key)) for column in keys]
            after = tuple_(*ordered) > tuple_(*values) if sort_dir == "asc" else tuple_(*ordered) < tuple_(*values)
            stmt = stmt.where(after)
        order = [column.asc() if sort_dir == "asc" else column.desc() for column in ordered]
        return [to_domain(row) for row in self.session.scalars(stmt.order_by(*order).limit(limit))]

    def for_image(self, image_id: str) -> list[Task]:
        stmt = select(TaskRow).where(TaskRow.image_id == image_id).order_by(TaskRow.created_at.desc())
        return [to_domain(row) for row in self.session.scalars(stmt)]

    # -- claiming ---------------------------------------------------------------------------------------
    def claim(
        self, worker: str, now: datetime, types: Collection[TaskType] | None = None, node: str | None = None
    ) -> Task | None:
        """Take the oldest pending task for ``worker``; None when there is none.

        One statement: an UPDATE of the oldest pending row that returns it. On PostgreSQL the candidate is
        locked with ``FOR UPDATE SKIP LOCKED`` so concurrent workers pick different tasks; everywhere the
        claim itself is a compare-and-set on the status, so even without row locks two workers can never
        both own a task. ``types``: only tasks of these types. A task bound to a node (``node``) is only
        claimed by a worker of that node.
        """
        params: dict[str, Any] = {"claimer": worker, "claimed_at": now, "claim_node": node}
        if types is not None:
            params["claim_types"] = [t.value for t in types]
        # an UPDATE takes SQLite's one write lock even when it matches nothing: an idle worker's polls would
        # hold up every request's commit, so there look first (a read) and update only what is there
        pending = _PENDING_ANY if types is None else _PENDING_TYPES
        if self.session.get_bind().dialect.name == "sqlite" and self.session.execute(pending, params).first() is None:
            return None
        if types is None:
            row = self.session.execute(_CLAIM_ANY, params).first()
        else:
            row = self.session.execute(_CLAIM_TYPES, params).first()
        return None if row is None else to_domain(row)

    def heartbeat(self, task_id: str, worker: str, now: datetime, bytes_done: int, bytes_total: int | None) -> bool:
        """Record progress; False when the worker no longer owns the task (it was reaped)."""
        result = self.session.execute(
            update(_TASKS)
            .where(
                _TASKS.c.id == task_id, _TASKS.c.claimed_by == worker, _TASKS.c.status == TaskStatus.PROCESSING.value
            )
            .values(heartbeat_at=now, bytes_done=bytes_done, bytes_total=bytes_total)
        )
        return bool(getattr(result, "rowcount", 0))

    def finish(
        self,
        task_id: str,
        worker: str | None,
        status: TaskStatus,
        *,
        result: dict[str, Any] | None,
        message: str,
        now: datetime,
        expires_at: datetime,
        bytes_done: int | None = None,
    ) -> bool:
        """End the task (if it is still pending or processing, and ``worker``'s); ``bytes_done``: how much it
        copied in all (the last heartbeat may have counted less)."""
        params = {
            "task": task_id, "holder": worker, "new_status": status.value, "new_result": result,
            "new_message": message, "ended_at": now, "new_expires_at": expires_at, "done": bytes_done,
        }  # fmt: skip
        outcome = self.session.execute(_FINISH_ANY if worker is None else _FINISH_HELD, params)
        return bool(getattr(outcome, "rowcount", 0))

    def stale(self, heartbeat_before: datetime) -> list[Task]:
        """Processing tasks whose worker stopped beating (killed, or its host went away)."""
        stmt = select(TaskRow).where(
            TaskRow.status == TaskStatus.PROCESSING.value, TaskRow.heartbeat_at < heartbeat_before
        )
        return [to_domain(row) for row in self.session.scalars(stmt)]

    def release(self, task_id: str, stale_worker: str | None, now: datetime) -> bool:
        """Put a stale processing task back to pending (for a retry), if it is still the stale one."""
        result = self.session.execute(
            update(_TASKS)
            .where(
                _TASKS.c.id == task_id,
                _TASKS.c.status == TaskStatus.PROCESSING.value,
                _TASKS.c.claimed_by == stale_worker,
            )
            .values(status=TaskStatus.PENDING.value, claimed_by=None, updated_at=now)
        )
        return bool(getattr(result, "rowcount", 0))


def _oldest_pending(typed: bool) -> Any:
    """The id of the oldest pending task a claim may take (``claim_node``, ``claim_types`` when ``typed``)."""
    candidate = _TASKS.alias("candidate")
    oldest = (
        select(candidate.c.id)
        .where(
            candidate.c.status == TaskStatus.PENDING.value,
            or_(candidate.c.node.is_(None), candidate.c.node == bindparam("claim_node")),
        )
        .order_by(candidate.c.created_at)
        .limit(1)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has one writer at a time anyway
    )
    if typed:
        oldest = oldest.where(candidate.c.type.in_(bindparam("claim_types", expanding=True)))
    return oldest


def _claim_statement(typed: bool) -> Any:
    """``UPDATE tasks SET <processing, claimed> WHERE id = (the oldest pending candidate) RETURNING *``."""
    pending = TaskStatus.PENDING.value
    return (
        update(_TASKS)
        .where(_TASKS.c.id == _oldest_pending(typed).scalar_subquery(), _TASKS.c.status == pending)
        .values(
            status=TaskStatus.PROCESSING.value,
            claimed_by=bindparam("claimer"),
            heartbeat_at=bindparam("claimed_at"),
            updated_at=bindparam("claimed_at"),
            attempts=_TASKS.c.attempts + 1,
        )
        .returning(*_TASKS.c)
    )


def _finish_statement(held: bool) -> Any:
    """End a pending or processing task (``held``: only while the ``holder`` worker has it); a ``done`` of
    None keeps the bytes counted so far."""
    stmt = update(_TASKS).where(
        _TASKS.c.id == bindparam("task"),
        _TASKS.c.status.in_([TaskStatus.PENDING.value, TaskStatus.PROCESSING.value]),
    )
    if held:
        stmt = stmt.where(_TASKS.c.claimed_by == bindparam("holder"))
    return stmt.values(
        status=bindparam("new_status"),
        result=bindparam("new_result", type_=_TASKS.c.result.type),
        message=bindparam("new_message"),
        updated_at=bindparam("ended_at"),
        expires_at=bindparam("new_expires_at"),
        heartbeat_at=bindparam("ended_at"),
        bytes_done=func.coalesce(bindparam("done", type_=_TASKS.c.bytes_done.type), _TASKS.c.bytes_done),
    )


_FINISH_ANY = _finish_statement(held=False)
_FINISH_HELD = _finish_statement(held=True)
_PENDING_ANY = _oldest_pending(typed=False)
_PENDING_TYPES = _oldest_pending(typed=True)
_CLAIM_ANY = _claim_statement(typed=False)
_CLAIM_TYPES = _claim_statement(typed=True)


def claimed_by(session: Session, task_id: str) -> str | None:
    return session.scalar(select(TaskRow.claimed_by).where(TaskRow.id == task_id))
