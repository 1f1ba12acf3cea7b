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

The package: ``base`` (the collaborators, secrets at rest), ``manage`` (the ``/v2/webhooks`` use cases),
``attempts`` (sending and recording), ``fanout``, ``dispatch`` (the runner and its sweep), ``service``
(:class:`WebhookService`, the parts together). Import from here.
"""

from __future__ import annotations

from glimpse.services.webhooks.attempts import PARALLEL, Pairs
from glimpse.services.webhooks.dispatch import BATCH, dispatch_task
from glimpse.services.webhooks.manage import CHANGEABLE, FIELDS, MAX_DESCRIPTION, MAX_URL, NOT_ENABLED
from glimpse.services.webhooks.service import WebhookService

__all__ = [
    "BATCH",
    "CHANGEABLE",
    "FIELDS",
    "MAX_DESCRIPTION",
    "MAX_URL",
    "NOT_ENABLED",
    "PARALLEL",
    "Pairs",
    "WebhookService",
    "dispatch_task",
]
