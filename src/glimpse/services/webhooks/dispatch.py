"""The ``webhook_dispatch`` runner: the due deliveries (retries, ended leases) attempted again; the worker's
sweep that starts it."""

from __future__ import annotations

import logging
from typing import Any

from glimpse.db.repositories.webhooks import WebhookRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.tasks import Task, TaskType
from glimpse.services.task_queue import Outcome, Progress, Step, internal_task
from glimpse.services.webhooks.attempts import Attempts

log = logging.getLogger("glimpse.services.webhooks")  # the package's name: what operators filter on

BATCH = 100  # deliveries one dispatch task sends; more due: another dispatch


class Dispatch(Attempts):
    """The task runner of ``webhook_dispatch`` (``run``, ``undo``, ``on_progress``) and its sweep."""

    async def run(self, task: Task, progress: Progress) -> Outcome:
        now = utcnow()
        claimed = await self.db.run(lambda s: WebhookRepository(s).claim_due(now, BATCH, self._lease(now)))
        pairs = await self._attempt(claimed)
        progress(len(pairs), len(pairs))
        more = len(claimed) == BATCH

        def finish(session: Any) -> None:
            self._record(session, pairs)
            if more and not WebhookRepository(session).dispatch_pending():
                self.queue.enqueue(session, dispatch_task())

        sent = sum(attempt.ok for _, attempt in pairs)
        return Outcome(result={"sent": sent, "failed": len(pairs) - sent}, finish=finish)

    async def undo(self, task: Task, reason: str) -> Step | None:
        log.warning("webhook dispatch failed: %s; its deliveries are retried when their lease ends", reason)
        return None

    def on_progress(self, task: Task, done: int, total: int | None, session: Any) -> None:
        pass

    async def sweep(self) -> None:
        """The worker's sweep: a dispatch when a delivery is due (a retry's time came) and none waits."""

        def work(session: Any) -> None:
            repo = WebhookRepository(session)
            if repo.any_due(utcnow()) and not repo.dispatch_pending():
                self.queue.enqueue(session, dispatch_task())

        await self.db.run(work)


def dispatch_task() -> Task:
    return internal_task(TaskType.WEBHOOK_DISPATCH)
