"""The tasks API: list and show the durable tasks that run imports (admin-only by default, as Glance)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from glimpse.context import RequestContext
from glimpse.db import Database
from glimpse.db.repositories.tasks import TaskRepository
from glimpse.domain.tasks import PUBLIC_TYPES, Task, TaskStatus, TaskType
from glimpse.errors import BadRequest
from glimpse.policy import Policy, Target
from glimpse.services.image_import import ImportService
from glimpse.services.images import ImageService
from glimpse.settings import Settings


class TaskService:
    def __init__(
        self, settings: Settings, db: Database, policy: Policy, images: ImageService, imports: ImportService
    ) -> None:
        self.imports = imports
        self.settings = settings
        self.db = db
        self.policy = policy
        self.images = images

    def _allowed(self, ctx: RequestContext, rule: str) -> None:
        target = Target(project_id=ctx.project_id)
        self.policy.enforce(ctx, "tasks_api_access", target)
        self.policy.enforce(ctx, rule, target)

    async def create(self, ctx: RequestContext, body: Mapping[str, Any]) -> Task:
        """POST /v2/tasks with type `import`: create an image from `image_properties` and import it from
        `import_from` (a URL, fetched like web-download, with the same filtering)."""
        self._allowed(ctx, "add_task")
        if body.get("type") != TaskType.IMPORT.value:
            raise BadRequest(f"Task type {body.get('type')!r} is not supported: only 'import' can be created")
        task_input = body.get("input")
        if not isinstance(task_input, dict):
            raise BadRequest("Task input must be an object with import_from, import_from_format, image_properties")
        source, properties = task_input.get("import_from"), task_input.get("image_properties", {})
        if not isinstance(source, str) or not source:
            raise BadRequest("Task input needs 'import_from', the URL of the image data")
        if not isinstance(properties, dict):
            raise BadRequest("'image_properties' must be an object")
        fmt = task_input.get("import_from_format")
        properties = {"disk_format": fmt, **properties} if isinstance(fmt, str) and fmt else dict(properties)
        image = await self.images.create(ctx, properties)
        return await self.imports.start(
            ctx,
            image.id,
            {"method": {"name": "web-download", "uri": source}},
            task_type=TaskType.IMPORT,
            task_input={
                "import_from": source,
                "import_from_format": fmt,
                "image_properties": task_input.get("image_properties", {}),
            },
        )

    async def get(self, ctx: RequestContext, task_id: str) -> Task:
        self._allowed(ctx, "get_task")
        return await self.db.run(lambda s: TaskRepository(s).get(task_id, ctx))

    async def search(self, ctx: RequestContext, params: Sequence[tuple[str, str]]) -> tuple[list[Task], str | None]:
        self._allowed(ctx, "get_tasks")
        args = dict(params)
        status, type_ = args.get("status"), args.get("type")
        if status is not None and status not in [s.value for s in TaskStatus]:
            raise BadRequest(f"Invalid status value: {status}")
        if type_ is not None and type_ not in [t.value for t in PUBLIC_TYPES]:
            raise BadRequest(f"Invalid type value: {type_}")
        sort_dir = args.get("sort_dir", "desc")
        if sort_dir not in ("asc", "desc"):
            raise BadRequest(f"Invalid sort direction: {sort_dir}")
        try:
            limit = min(int(args.get("limit", self.settings.limit_param_default)), self.settings.api_limit_max)
        except ValueError:
            raise BadRequest("limit param must be an integer") from None
        if limit < 0:
            raise BadRequest("limit param must be positive")
        tasks = await self.db.run(
            lambda s: TaskRepository(s).search(
                ctx,
                status=status,
                type_=type_,
                sort_dir=sort_dir,
                limit=limit,
                marker=args.get("marker"),
                sort_key=args.get("sort_key", "created_at"),
            )
        )
        return tasks, (tasks[-1].id if tasks and len(tasks) == limit else None)

    async def for_image(self, ctx: RequestContext, image_id: str) -> list[Task]:
        """GET /v2/images/{id}/tasks: the tasks of an image the caller may see."""
        await self.images.load(ctx, image_id)
        return await self.db.run(lambda s: TaskRepository(s).for_image(image_id))
