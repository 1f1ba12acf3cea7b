"""The ``/v2/webhooks`` use cases: create (the secret shown once), list, show, update, delete, deliveries."""

from __future__ import annotations

import logging
from typing import Any

from glimpse.context import RequestContext
from glimpse.db.repositories.webhooks import WebhookRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.images import new_id
from glimpse.domain.webhooks import (
    Delivery,
    Webhook,
    WebhookStatus,
    new_secret,
    parse_filters,
)
from glimpse.errors import BadRequest, Forbidden, NotFound, TooLarge
from glimpse.policy.engine import Target
from glimpse.services import fetch
from glimpse.services.webhooks.base import WebhookBase

log = logging.getLogger("glimpse.services.webhooks")  # the package's name: what operators filter on

MAX_URL = 2048
MAX_DESCRIPTION = 255
FIELDS = frozenset({"url", "events", "description", "global"})
CHANGEABLE = frozenset({"status", "events", "description"})  # what PATCH may change
NOT_ENABLED = "Webhooks are not enabled at this site."


def _not_found(webhook_id: str) -> NotFound:
    return NotFound(f"Webhook {webhook_id} not found.")


class Management(WebhookBase):
    """``/v2/webhooks`` and ``/v2/webhooks/{id}/deliveries``."""

    # -- the API --------------------------------------------------------------------------------------
    def _require_enabled(self) -> None:
        if not self.enabled:
            raise NotFound(NOT_ENABLED)

    def _is_admin(self, ctx: RequestContext) -> bool:
        return self.policy.check(ctx, "context_is_admin")

    async def create(self, ctx: RequestContext, body: dict[str, Any]) -> tuple[Webhook, str]:
        """A new webhook and its secret (shown this once)."""
        self._require_enabled()
        unknown = sorted(set(body) - FIELDS)
        if unknown:
            raise BadRequest(f"Unknown webhook attribute(s): {', '.join(unknown)}")
        url = body.get("url")
        if not isinstance(url, str) or not url or len(url) > MAX_URL:
            raise BadRequest(f"'url' must be an http or https URL of at most {MAX_URL} characters")
        description = body.get("description", "")
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
            raise BadRequest(f"'description' must be text of at most {MAX_DESCRIPTION} characters")
        every_project = body.get("global", False)
        if not isinstance(every_project, bool):
            raise BadRequest("'global' must be true or false")
        events = parse_filters(body.get("events"))
        if every_project:
            self.policy.enforce(ctx, "add_global_webhook")
        else:
            if ctx.project_id is None:
                raise Forbidden("A webhook belongs to a project: use a project-scoped token")
            self.policy.enforce(ctx, "add_webhook", Target(project_id=ctx.project_id))
        await fetch.check_import_uri(url, self.web, resolver=self.resolver, what="Webhook URL")
        now = utcnow()
        secret = new_secret()
        webhook = Webhook(
            id=new_id(), project_id=None if every_project else ctx.project_id, url=url, events=events,
            secret=self.box.seal(secret), audience=tuple(sorted({role.lower() for role in ctx.roles})),
            description=description,
            status=WebhookStatus.ACTIVE, failures=0, disabled_reason=None, created_at=now, updated_at=now,
        )  # fmt: skip
        limit = self.settings.webhook_max_per_project

        def work(session: Any) -> None:
            repo = WebhookRepository(session)
            if webhook.project_id is not None and repo.count(webhook.project_id) >= limit:
                raise TooLarge(f"Maximum number of webhooks exceeded: the limit is {limit}")
            repo.add(webhook)

        await self.db.run(work)
        log.info("webhook %s created for %s: %s", webhook.id, webhook.project_id or "every project", fetch.redact(url))
        return webhook, secret

    async def list_webhooks(self, ctx: RequestContext) -> list[Webhook]:
        """The caller's project's webhooks; an admin sees every webhook, the global ones included."""
        self._require_enabled()
        self.policy.enforce(ctx, "get_webhooks", Target(project_id=ctx.project_id))
        admin = self._is_admin(ctx)
        if not admin and ctx.project_id is None:
            return []
        return await self.db.run(lambda s: WebhookRepository(s).of_project(ctx.project_id, every_project=admin))

    async def _load(self, ctx: RequestContext, webhook_id: str, rule: str) -> Webhook:
        self._require_enabled()
        webhook = await self.db.run(lambda s: WebhookRepository(s).get(webhook_id))
        if webhook is None or (webhook.project_id != ctx.project_id and not self._is_admin(ctx)):
            raise _not_found(webhook_id)  # another project's webhook is not there for this caller
        self.policy.enforce(ctx, rule, Target(project_id=webhook.project_id))
        return webhook

    async def get(self, ctx: RequestContext, webhook_id: str) -> Webhook:
        return await self._load(ctx, webhook_id, "get_webhook")

    async def update(self, ctx: RequestContext, webhook_id: str, body: dict[str, Any]) -> Webhook:
        """Change a webhook's ``status`` (``active`` re-enables a disabled one: its count of failures starts
        again from 0; ``disabled`` stops it, failing what was pending), ``events`` or ``description``."""
        unknown = sorted(set(body) - CHANGEABLE)
        if unknown:
            raise BadRequest(f"Attribute(s) that cannot be changed: {', '.join(unknown)}")
        status: WebhookStatus | None = None
        if "status" in body:
            if body["status"] not in (WebhookStatus.ACTIVE.value, WebhookStatus.DISABLED.value):
                raise BadRequest("'status' must be 'active' or 'disabled'")
            status = WebhookStatus(body["status"])
        events = parse_filters(body["events"]) if "events" in body else None
        description = body.get("description")
        if description is not None and (not isinstance(description, str) or len(description) > MAX_DESCRIPTION):
            raise BadRequest(f"'description' must be text of at most {MAX_DESCRIPTION} characters")
        webhook = await self._load(ctx, webhook_id, "modify_webhook")

        def work(session: Any) -> Webhook:
            changed = WebhookRepository(session).update(
                webhook.id, utcnow(), status=status, events=events, description=description
            )
            if changed is None:
                raise _not_found(webhook_id)
            return changed

        changed = await self.db.run(work)
        if status is not None and status is not webhook.status:
            log.info("webhook %s %s by %s", webhook.id, "re-enabled" if status is WebhookStatus.ACTIVE
                     else "disabled", ctx.user_id)  # fmt: skip
        return changed

    async def delete(self, ctx: RequestContext, webhook_id: str) -> None:
        webhook = await self._load(ctx, webhook_id, "delete_webhook")
        if not await self.db.run(lambda s: WebhookRepository(s).delete(webhook.id)):
            raise _not_found(webhook_id)
        log.info("webhook %s deleted", webhook.id)

    async def deliveries(
        self, ctx: RequestContext, webhook_id: str, limit: int, marker: str | None
    ) -> tuple[Webhook, list[Delivery]]:
        webhook = await self._load(ctx, webhook_id, "get_webhook")

        def work(session: Any) -> list[Delivery]:
            repo = WebhookRepository(session)
            if marker is not None and not repo.delivery_exists(marker):
                raise BadRequest(f"Invalid marker: delivery {marker} not found")
            return repo.deliveries(webhook.id, limit, marker)

        return webhook, await self.db.run(work)
