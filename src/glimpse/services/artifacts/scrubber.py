"""The scrubber of artifacts deleted with ``delayed_delete`` (Glare's): such an artifact stays, shown as
``deleted`` and listed no more, until the scrubber removes it and its references to stored blob data (whose
bytes go through the ``artifact_blob_delete`` tasks once nothing references them).

The delete enqueues an ``artifact_scrub`` task in its own transaction, so every deleted artifact is scrubbed by
a worker (`glimpse worker`, the one in `glimpse serve`, or the artifacts server's own); `glimpse artifacts
scrub` scrubs every deleted artifact at once, as Glare's scrubber run without ``daemon``.
"""

from __future__ import annotations

import logging
from typing import Any

from glimpse.db.repositories.artifacts import ArtifactRepository, Viewer
from glimpse.domain.tasks import Task
from glimpse.errors import NotFound
from glimpse.services.artifacts.service import ArtifactService
from glimpse.services.task_queue import Outcome, Progress, Step

log = logging.getLogger(__name__)

BATCH = 100  # artifacts removed in one transaction


class Scrubber:
    def __init__(self, artifacts: ArtifactService) -> None:
        self.artifacts = artifacts

    async def scrub(self, artifact_ids: list[str] | None = None) -> int:
        """Remove the given deleted artifacts, or every deleted one; how many were removed."""
        removed = 0
        while True:

            def work(repo: ArtifactRepository, wanted: list[str] | None = artifact_ids) -> int:
                ids = wanted if wanted is not None else repo.deleted_ids(BATCH)
                done = 0
                for artifact_id in ids:
                    try:
                        record = repo.get(artifact_id, None, Viewer(None, all_projects=True))
                    except NotFound:
                        continue  # scrubbed already
                    if record.columns["status"] == "deleted":
                        self.artifacts.remove(repo, record)
                        done += 1
                return done

            done = await self.artifacts.db.run(lambda session: work(ArtifactRepository(session)))
            removed += done
            if artifact_ids is not None or done == 0:
                break
        if removed:
            log.info("scrubbed %d deleted artifact(s)", removed)
        return removed

    # -- the artifact_scrub task's runner ---------------------------------------------------------------
    async def run(self, task: Task, progress: Progress) -> Outcome:
        return Outcome(result={"scrubbed": await self.scrub([task.input["artifact_id"]])})

    async def undo(self, task: Task, reason: str) -> Step | None:
        log.warning("artifact %s stays deleted, not scrubbed: %s", task.input.get("artifact_id"), reason)
        return None

    def on_progress(self, task: Task, done: int, total: int | None, session: Any) -> None:
        pass
