"""The collaborators every part of the webhook service uses, and webhook secrets at rest (sealed in the
database, the worker's sweep sealing those stored before)."""

from __future__ import annotations

import logging
from typing import Any

from glimpse.db import Database
from glimpse.db.repositories.webhooks import WebhookRepository
from glimpse.domain.webhooks import (
    Webhook,
)
from glimpse.keys.local import SecretBox, SecretUnreadable, is_sealed, parse_keys, shared_key
from glimpse.policy import Policy, PropertyProtections
from glimpse.services import fetch
from glimpse.services.task_queue import TaskQueue
from glimpse.settings import Settings

log = logging.getLogger("glimpse.services.webhooks")  # the package's name: what operators filter on


class WebhookBase:
    """What the parts of :class:`WebhookService` share: its collaborators and the box sealing the secrets."""

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
