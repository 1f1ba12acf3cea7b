"""Webhooks: the /v2/webhooks use cases, the fan-out of delivered outbox events into deliveries, and the
``webhook_dispatch`` runner that retries them.

An event reaches a webhook in durable steps. The outbox drain that delivers an event hands it to
:meth:`WebhookService.fan_out` inside the transaction that marks it delivered: one ``webhook_deliveries`` row
per webhook that wants it (its project's, or a global one; its event filters), holding the signed body's
CloudEvent (the payload filtered for the webhook's audience, as notifications are), already taken for its
first attempt (leased: a process that dies before recording the attempt leaves it due when the lease ends).
Once that transaction committed, the drain makes the first attempts: each POST goes through web-download's
SSRF guard (``services/fetch.post``: the target is checked and resolved at every attempt, and the connection
pinned to the checked address), and every attempt is recorded in one transaction: a 2xx is ``succeeded``;
anything else waits ``backoff * 2^(n-1)`` seconds (at most ``backoff_max``) for attempt n+1, and is
``failed`` after ``max_attempts``. ``disable_after`` failed attempts in a row disable the webhook (its
pending deliveries fail with it). The worker's sweep starts a ``webhook_dispatch`` task whenever an attempt
is due (a retry's time came, or a lease ended): it claims the due deliveries and records their attempts in
the transaction that ends it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from glimpse.context import RequestContext
from glimpse.db import Database
from glimpse.db.repositories.webhooks import WebhookRepository
from glimpse.domain.clock import utcnow
from glimpse.domain.images import new_id
from glimpse.domain.outbox import OutboxMessage
from glimpse.domain.tasks import Task, TaskType
from glimpse.domain.webhooks import (
    CONTENT_TYPE,
    Attempt,
    Delivery,
    DeliveryStatus,
    Webhook,
    WebhookStatus,
    backoff,
    cloudevent,
    new_secret,
    parse_filters,
    sign,
)
from glimpse.errors import BadRequest, Forbidden, NotFound, TooLarge
from glimpse.events.emit import project_of
from glimpse.events.notifier import Audience, for_audience
from glimpse.keys.local import SecretBox, SecretUnreadable, is_sealed, parse_keys, shared_key
from glimpse.policy import Policy, PropertyProtections
from glimpse.policy.engine import Target
from glimpse.services import fetch
from glimpse.services.task_queue import Outcome, Progress, Step, TaskQueue, internal_task
from glimpse.settings import Settings

log = logging.getLogger(__name__)

Pairs = Sequence[tuple[tuple[Delivery, Webhook], Attempt]]
"""Taken deliveries (with their webhook) and what their attempt got."""

BATCH = 100  # deliveries one dispatch task sends; more due: another dispatch
PARALLEL = 8  # attempts in flight at once within a dispatch
MAX_URL = 2048
MAX_DESCRIPTION = 255
FIELDS = frozenset({"url", "events", "description", "global"})
CHANGEABLE = frozenset({"status", "events", "description"})  # what PATCH may change
NOT_ENABLED = "Webhooks are not enabled at this site."


def _not_found(webhook_id: str) -> NotFound:
    return NotFound(f"Webhook {webhook_id} not found.")


class WebhookService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        policy: Policy,
        queue: TaskQueue,
        protections: PropertyProtections | None,
        web: fetch.FetchPolicy,
        resolver: fetch.Resolver | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.policy = policy
        self.queue = queue
        self.protections = protections
        self.enabled = settings.webhooks_enabled
        timeout = settings.webhook_timeout
        self.web = fetch.FetchPolicy(
            allowed_schemes=web.allowed_schemes, disallowed_schemes=web.disallowed_schemes,
            allowed_hosts=web.allowed_hosts, disallowed_hosts=web.disallowed_hosts,
            allowed_ports=web.allowed_ports, disallowed_ports=web.disallowed_ports,
            allow_private_addresses=web.allow_private_addresses, max_redirects=0, connect_timeout=timeout,
            read_timeout=timeout, deadline=timeout, ca_file=web.ca_file,
        )  # fmt: skip
        self.resolver = resolver
        self.source = f"urn:glimpse:{settings.default_publisher_id}"
        self._box: SecretBox | None = None
        if self.enabled and settings.webhook_secret_key is not None:  # a bad key is refused at start
            self._box = SecretBox(parse_keys(settings.webhook_secret_key.get_secret_value()))

    # -- secrets at rest --------------------------------------------------------------------------------
    @property
    def box(self) -> SecretBox:
        """What seals webhook secrets in the database: the configured keys, else the data directory's."""
        if self._box is None:
            self._box = SecretBox([shared_key(self.settings.data_dir / "webhooks.key")])
        return self._box

    def _signing_secret(self, webhook: Webhook) -> str:
        """The secret that signs ``webhook``'s deliveries (stored sealed; a row from before sealing is plain)."""
        return self.box.open(webhook.secret) if is_sealed(webhook.secret) else webhook.secret

    async def seal_plain_secrets(self) -> int:
        """The worker's sweep: seal the secrets of webhooks created before secrets were sealed (and seal
        again with the first key those sealed with an older one, once rotated); how many changed."""
        box = self.box

        def work(session: Any) -> int:
            repo = WebhookRepository(session)
            changed = 0
            for webhook_id, stored in repo.secrets():
                if is_sealed(stored) and box.current(stored):
                    continue
                try:
                    sealed = box.rotate(stored) if is_sealed(stored) else box.seal(stored)
                except SecretUnreadable:
                    log.error("webhook %s: its secret opens with none of the configured keys", webhook_id)
                    continue
                repo.set_secret(webhook_id, sealed)
                changed += 1
            return changed

        return await self.db.run(work)

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

    # -- the fan-out (an outbox Fanout) ---------------------------------------------------------------
    def fan_out(self, session: Any, messages: Sequence[OutboxMessage]) -> Callable[[], Awaitable[None]] | None:
        """One delivery per (message, webhook that wants it), in the drain's ending transaction, already
        taken for its first attempt; what to run once that transaction committed: the attempts (the drain
        makes them, so a burst of events costs no dispatch task). A process that dies first leaves them due
        when their lease ends, for the sweep's dispatch."""
        if not messages:
            return None
        repo = WebhookRepository(session)
        projects = {project for message in messages if (project := project_of(message.payload)) is not None}
        webhooks = repo.active(projects)
        if not webhooks:
            return None
        now = utcnow()
        lease = self._lease(now)
        memo: dict[tuple[str, ...], dict[str, bool]] = {}
        taken: list[tuple[Delivery, Webhook]] = []
        for message in messages:
            project = project_of(message.payload)
            for webhook in webhooks:
                if not webhook.wants(message.topic, project):
                    continue
                shown = for_audience(
                    message.payload.get("payload"), Audience(webhook.audience), self.protections,
                    memo.setdefault(webhook.audience, {}),
                )  # fmt: skip
                event = cloudevent(message.id, message.topic, self.source, message.created_at, shown)
                delivery = Delivery(
                    id=new_id(),
                    webhook_id=webhook.id,
                    event_id=message.id,
                    event_type=message.topic,
                    body=json.dumps(event, separators=(",", ":"), ensure_ascii=False),
                    status=DeliveryStatus.PENDING,
                    attempts=1,  # this one, made once the drain committed
                    next_attempt_at=lease,
                    last_status_code=None,
                    last_error=None,
                    created_at=message.created_at,  # when the event happened: the order of delivery
                    updated_at=now,
                )
                taken.append((delivery, webhook))
        if not taken:
            return None
        repo.add_deliveries([delivery for delivery, _ in taken])

        async def first_attempts() -> None:
            pairs = await self._attempt(taken)
            await self.db.run(lambda s: self._record(s, pairs))

        return first_attempts

    def _lease(self, now: datetime) -> datetime:
        """Until when an attempt keeps its delivery: a dispatch (or drain) that dies leaves it due again then."""
        return now + timedelta(seconds=2 * self.settings.webhook_timeout + 30)

    # -- the dispatch runner --------------------------------------------------------------------------
    async def _send(self, webhook: Webhook, deliveries: Sequence[Delivery]) -> list[Attempt]:
        """One webhook's deliveries, in order, over one connection to its checked address."""
        try:
            secret = self._signing_secret(webhook)
        except SecretUnreadable as exc:
            return [Attempt(delivery.id, None, f"{exc}: nothing was sent") for delivery in deliveries]
        timestamp = int(time.time())
        requests = []
        for delivery in deliveries:
            body = delivery.body.encode()
            headers = {
                "Content-Type": CONTENT_TYPE,
                "webhook-id": delivery.id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(secret, delivery.id, timestamp, body),
            }
            requests.append((body, headers))
        answers = await fetch.post_each(webhook.url, requests, self.web, resolver=self.resolver)
        attempts = []
        for delivery, (status, error) in zip(deliveries, answers, strict=True):
            if error is None and status is not None and not 200 <= status < 300:
                error = f"the receiver answered {status}"
            attempts.append(Attempt(delivery.id, status, error))
        return attempts

    async def _attempt(self, claimed: Sequence[tuple[Delivery, Webhook]]) -> Pairs:
        """One attempt of each taken delivery: one webhook's one after another, in the order of their events;
        webhooks in parallel."""
        queues: dict[str, tuple[Webhook, list[Delivery]]] = {}
        for delivery, webhook in claimed:
            queues.setdefault(webhook.id, (webhook, []))[1].append(delivery)
        slots = asyncio.Semaphore(PARALLEL)
        outcomes: dict[str, Attempt] = {}

        async def send(webhook: Webhook, deliveries: list[Delivery]) -> None:
            async with slots:
                for attempt in await self._send(webhook, deliveries):
                    outcomes[attempt.delivery_id] = attempt

        await asyncio.gather(*(send(webhook, deliveries) for webhook, deliveries in queues.values()))
        pairs = [(pair, outcomes[pair[0].id]) for pair in claimed]
        for (delivery, webhook), attempt in pairs:
            if not attempt.ok:
                log.warning(
                    "webhook %s: delivery %s (%s) attempt %d to %s failed: %s", webhook.id, delivery.id,
                    delivery.event_type, delivery.attempts, fetch.redact(webhook.url), attempt.error,
                )  # fmt: skip
        return pairs

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

    def _record(self, session: Any, pairs: Pairs) -> None:
        """Each attempt's outcome, in the transaction that ends the dispatch: the successes in one statement
        per status code, the failures one by one (each webhook's failures counted, and maybe disabling it)."""
        s = self.settings
        repo = WebhookRepository(session)
        now = utcnow()
        succeeded: dict[int | None, list[str]] = {}
        recovered: set[str] = set()
        for (delivery, webhook), attempt in pairs:
            if attempt.ok:
                succeeded.setdefault(attempt.status_code, []).append(delivery.id)
                recovered.add(webhook.id)
        for status_code, ids in succeeded.items():
            repo.record_many(ids, now, status=DeliveryStatus.SUCCEEDED, status_code=status_code)
        for webhook_id in recovered:
            repo.succeeded(webhook_id)
        for (delivery, webhook), attempt in pairs:
            if attempt.ok:
                continue
            last = delivery.attempts >= s.webhook_max_attempts
            wait = backoff(delivery.attempts, s.webhook_backoff, s.webhook_backoff_max)
            repo.record(
                delivery.id, now, status=DeliveryStatus.FAILED if last else DeliveryStatus.PENDING,
                next_attempt_at=None if last else now + wait, status_code=attempt.status_code, error=attempt.error,
            )  # fmt: skip
            if repo.failed(webhook.id, now, s.webhook_disable_after):
                log.warning("webhook %s disabled: %d failed attempts in a row", webhook.id, s.webhook_disable_after)

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
