"""GET /v2/tasks as Glance lists tasks: any task column as sort_key (then created_at and id, in sort_dir),
marker paging in that order with empty values first, listed tasks without input/result/message, and a
`first` link that keeps the query."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from glimpse.container import Services
from glimpse.db.repositories.tasks import TaskRepository
from glimpse.domain.tasks import Task, TaskStatus, TaskType
from tests.functional.conftest import plain_error

BASE = datetime(2026, 1, 1)


@pytest.fixture
def tasks(services: Services) -> list[Task]:
    """Six tasks whose user_id and image_id are sometimes empty and whose order differs per column."""
    made = [
        Task(
            id=f"00000000-0000-0000-0000-00000000000{n}",
            type=TaskType.API_IMAGE_IMPORT if n % 2 else TaskType.LOCATION_IMPORT,
            status=TaskStatus.SUCCESS if n in (0, 3, 4) else TaskStatus.FAILURE,  # finished: no worker takes them
            owner="admin",
            created_at=BASE + timedelta(minutes=n),
            updated_at=BASE + timedelta(minutes=10 - n),
            user_id=None if n % 3 == 0 else f"user-{5 - n}",
            image_id=None if n == 4 else f"image-{n % 2}",
            input={"n": n},
            message=f"m{n}",
        )
        for n in range(6)
    ]

    def add(session: Any) -> None:
        repo = TaskRepository(session)
        for task in made:
            repo.add(task)

    services.db.run_sync(add)
    return made


def _ids(client: TestClient, query: str) -> list[str]:
    response = client.get(f"/v2/tasks?{query}")
    assert response.status_code == 200, response.text
    return [task["id"] for task in response.json()["tasks"]]


def _paged(client: TestClient, query: str) -> list[str]:
    """Every task, two at a time, following `next`."""
    seen: list[str] = []
    url = f"/v2/tasks?{query}&limit=2"
    while url:
        body = client.get(url).json()
        seen += [task["id"] for task in body["tasks"]]
        url = body.get("next", "")
    return seen


def _expected(tasks: list[Task], key: str, reverse: bool) -> list[str]:
    def sort_value(task: Task) -> tuple[Any, ...]:
        value = getattr(task, key)
        value = getattr(value, "value", value)
        empty = datetime(1970, 1, 1) if key == "expires_at" else ""
        return (empty if value is None else value, task.created_at, task.id)

    return [task.id for task in sorted(tasks, key=sort_value, reverse=reverse)]


@pytest.mark.parametrize("key", ["created_at", "updated_at", "status", "type", "user_id", "image_id", "id"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sort_and_page_by_any_column(client: TestClient, tasks: list[Task], key: str, direction: str) -> None:
    expected = _expected(tasks, key, reverse=direction == "desc")
    assert _ids(client, f"sort_key={key}&sort_dir={direction}") == expected
    assert _paged(client, f"sort_key={key}&sort_dir={direction}") == expected


def test_default_order_is_newest_first(client: TestClient, tasks: list[Task]) -> None:
    assert _ids(client, "") == [task.id for task in reversed(tasks)]


def test_unknown_sort_key_is_400(client: TestClient, tasks: list[Task]) -> None:
    response = client.get("/v2/tasks?sort_key=input")
    assert response.status_code == 400
    assert response.text == plain_error("400 Bad Request", "Sort key supplied was not valid.")


def test_listed_tasks_are_stubs_and_first_keeps_the_query(client: TestClient, tasks: list[Task]) -> None:
    body = client.get("/v2/tasks?sort_key=status&limit=2").json()
    assert body["first"] == "/v2/tasks?sort_key=status&limit=2"
    for listed in body["tasks"]:
        assert not {"input", "result", "message"} & set(listed)
    shown = client.get(f"/v2/tasks/{tasks[0].id}").json()
    assert (shown["input"], shown["message"]) == ({"n": 0}, "m0")
