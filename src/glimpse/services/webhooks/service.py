"""The webhook service: its parts in one object, wired by ``container.py``."""

from __future__ import annotations

from glimpse.services.webhooks.dispatch import Dispatch
from glimpse.services.webhooks.fanout import FanOut
from glimpse.services.webhooks.manage import Management


class WebhookService(Management, FanOut, Dispatch):
    """Webhooks: the API's use cases (``manage.py``), the outbox fan-out (``fanout.py``) and the dispatch
    runner (``dispatch.py``), their attempts (``attempts.py``), over the collaborators and sealed secrets of
    ``base.py``."""
