"""What the install page and its JSON show of a catalog_install task: the percentage from the task's progress
(below 100 until the task has succeeded), the phase text, and the link to the installed asset."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from glimpse.api.dashboard.installs import install_view
from glimpse.domain.tasks import Task, TaskStatus, TaskType

NOW = datetime(2026, 12, 6, tzinfo=UTC)


def task(status: TaskStatus, done: int = 0, total: int | None = None, **fields: Any) -> Task:
    return Task(id="t1", type=TaskType.CATALOG_INSTALL, status=status, owner="alpha", created_at=NOW, updated_at=NOW,
                input={"catalog": "pub", "name": "stack", "version": "1.0"}, bytes_done=done, bytes_total=total,
                **fields)  # fmt: skip


@pytest.mark.parametrize(
    ("status", "done", "total", "percent"),
    [
        (TaskStatus.PENDING, 0, None, 0),
        (TaskStatus.PROCESSING, 0, None, 0),  # no heartbeat yet
        (TaskStatus.PROCESSING, 370, 1000, 37),
        (TaskStatus.PROCESSING, 1000, 1000, 99),  # every byte stored, the task not ended yet
        (TaskStatus.SUCCESS, 500, None, 100),  # ended before any heartbeat wrote the total
        (TaskStatus.SUCCESS, 0, 0, 100),  # everything installed already
        (TaskStatus.FAILURE, 250, 1000, 25),  # where it stopped
    ],
)
def test_the_percentage_follows_the_task(status: TaskStatus, done: int, total: int | None, percent: int) -> None:
    assert install_view(task(status, done, total), "/dashboard").percent == percent


def test_the_phase_and_the_failure_message() -> None:
    assert install_view(task(TaskStatus.PENDING), "").status_text.startswith("Waiting for a worker")
    failed = install_view(task(TaskStatus.FAILURE, message="sha256 mismatch"), "")
    assert (failed.status_text, failed.finished, failed.link) == ("The install failed: sha256 mismatch", True, "")


@pytest.mark.parametrize(
    ("installed", "link"),
    [
        ({"local_type": "heat_templates", "id": "a1"}, "/dashboard/apps/heat_templates/a1"),
        ({"local_type": "image", "id": "i1"}, "/dashboard/images/i1"),
        ({"local_type": "bundle", "id": None}, "/dashboard/apps"),  # a bundle makes nothing of its own
    ],
)
def test_the_link_is_the_asset_itself(installed: dict[str, Any], link: str) -> None:
    dependency = {"local_type": "image", "id": "dep"}
    done = task(TaskStatus.SUCCESS, result={"installed": [dependency, installed]})
    assert install_view(done, "/dashboard").link == link
