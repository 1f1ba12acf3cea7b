"""Webhooks: the /v2/webhooks use cases, the fan-out of delivered outbox events into deliveries, and the
``webhook_dispatch`` runner that retries them.

An event reaches a webhook in durable steps. The outbox drain that delivers an event asks
:meth:`WebhookService.prepare` (as it reads its batch) which webhooks may want it (its project's, or a global
one), and once the notification sinks took the batch, :meth:`WebhookService.fan_out` makes the first attempt
of one delivery per webhook that wants the event (its event filters): a CloudEvent of the payload filtered for
the webhook's audience (as notifications are), with an id derived from the event's and the webhook's, so the
same event sent again carries the same ``webhook-id``. Each POST goes through web-download's SSRF guard
(``services/fetch.post``: the target is checked and resolved at every attempt, and the connection pinned to
the checked address). The drain's ending transaction, the one that removes the delivered events, records each
delivery as its first attempt left it; a drain that dies before it leaves the events undelivered, and the
next drain sends them again (at least once). A 2xx is ``succeeded`` (the row then keeps no body); anything
else waits ``backoff * 2^(n-1)`` seconds (at most ``backoff_max``) for attempt n+1, and is ``failed`` after
``max_attempts``. ``disable_after`` failed attempts in a row disable the webhook (its pending deliveries fail
with it). The worker's sweep starts a ``webhook_dispatch`` task whenever an attempt is due (a retry's time
came, or a dispatch's lease ended): it claims the due deliveries and records their attempts in the
transaction that ends it.

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
