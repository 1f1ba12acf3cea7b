"""What every metadef use case shares: finding the namespace the caller may see, the policy target, and
the per-project cap on records.

Glance's order of checks, which decides between 404 and 403: a namespace the caller may not see (private
and another project's, for anyone but an admin) is 404 whatever the operation; then the operation's rule
is enforced against the namespace (403; a read rule's refusal is 404 too, so nothing leaks).
"""

from __future__ import annotations

from typing import Any

from glimpse.context import RequestContext
from glimpse.db import Database
from glimpse.db.repositories.metadefs import MetadefRepository
from glimpse.domain.metadefs import Namespace
from glimpse.errors import Forbidden, NotFound, TooLarge
from glimpse.events import NO_EVENTS, Events
from glimpse.policy import Policy
from glimpse.policy.engine import Target
from glimpse.settings import Settings


def namespace_target(namespace: Namespace) -> Target:
    return Target(
        project_id=namespace.owner,
        visibility=namespace.visibility,
        attributes={"namespace": namespace.namespace, "protected": namespace.protected},
    )


class MetadefBase:
    def __init__(self, settings: Settings, db: Database, policy: Policy) -> None:
        self.settings = settings
        self.db = db
        self.policy = policy
        self.events: Events = NO_EVENTS  # the container sets it

    def is_admin(self, ctx: RequestContext) -> bool:
        return self.policy.check(ctx, "context_is_admin")

    def target(self, ctx: RequestContext) -> Target:
        """For rules checked before there is a namespace (create, list)."""
        return Target(project_id=ctx.project_id)

    def enforce(self, ctx: RequestContext, rule: str, namespace: Namespace | None = None) -> None:
        target = namespace_target(namespace) if namespace is not None else self.target(ctx)
        if not self.policy.check(ctx, rule, target):
            raise Forbidden(f"You are not authorized to complete {rule} action.")

    def enforce_read(self, ctx: RequestContext, rule: str, namespace: Namespace) -> None:
        """A read refused is a namespace not found."""
        if not self.policy.check(ctx, rule, namespace_target(namespace)):
            raise NotFound(f"Namespace {namespace.namespace} not found")

    def visible(
        self,
        ctx: RequestContext,
        namespace: Namespace | None,
        name: str,
        *,
        missing: str | None = None,
        hidden: str | None = None,
    ) -> Namespace:
        """``namespace`` if the caller may see it, else 404; Glance words the 404 differently by operation:
        ``missing`` for a namespace that does not exist, ``hidden`` for one the caller may not see."""
        if namespace is None:
            raise NotFound(missing or f"Namespace {name} not found")
        if not namespace.visible_to(ctx.project_id, self.is_admin(ctx)):
            raise NotFound(hidden or f"Namespace {name} not found")
        return namespace

    async def load(
        self, ctx: RequestContext, name: str, *, missing: str | None = None, hidden: str | None = None
    ) -> Namespace:
        """The namespace ``name`` if the caller may see it, else 404."""
        found = await self.db.run(lambda s: MetadefRepository(s).find_namespace(name))
        return self.visible(ctx, found, name, missing=missing, hidden=hidden)

    def check_cap(self, repo: MetadefRepository, owner: str, adding: int) -> None:
        """``metadef_records_per_project``: objects + properties + tags in one project's namespaces."""
        cap = self.settings.metadef_records_per_project
        if not cap or adding <= 0:
            return
        repo.lock_owner(owner)
        used = repo.count_records(owner)
        if used + adding > cap:
            raise TooLarge(
                f"Maximum number of metadef records exceeded for project {owner}: the limit is {cap}, "
                f"{used} in use, {adding} requested"
            )


def namespace_missing(name: str) -> str:
    return f"Metadata definition namespace={name} was not found."


def without(document: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in keys}
