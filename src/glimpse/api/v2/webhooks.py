"""/v2/webhooks (a Glimpse extension): a project's webhooks, each one's delivery log; docs/webhooks.md."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from glimpse.api.http import context, json_object, json_response, no_content, services
from glimpse.domain.clock import isoformat
from glimpse.domain.webhooks import Delivery, Webhook
from glimpse.errors import BadRequest
from glimpse.services.fetch import redact

DEFAULT_LIMIT = 25
MAX_LIMIT = 100


def webhook_view(webhook: Webhook) -> dict[str, Any]:
    """A webhook as the API shows it: never its secret, its URL without credentials or query."""
    return {
        "id": webhook.id,
        "url": redact(webhook.url),
        "events": list(webhook.events),
        "description": webhook.description,
        "project_id": webhook.project_id,
        "global": webhook.project_id is None,
        "status": webhook.status.value,
        "failures": webhook.failures,
        "disabled_reason": webhook.disabled_reason,
        "created_at": isoformat(webhook.created_at),
        "updated_at": isoformat(webhook.updated_at),
        "self": f"/v2/webhooks/{webhook.id}",
        "deliveries": f"/v2/webhooks/{webhook.id}/deliveries",
    }


def delivery_view(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "next_attempt_at": isoformat(delivery.next_attempt_at) if delivery.next_attempt_at else None,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": isoformat(delivery.created_at),
        "updated_at": isoformat(delivery.updated_at),
    }


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit():
        raise BadRequest("limit param must be an integer")
    return min(int(raw), MAX_LIMIT)


async def create(request: Request) -> Response:
    webhook, secret = await services(request).webhooks.create(context(request), await json_object(request))
    return json_response({**webhook_view(webhook), "secret": secret}, 201)


async def index(request: Request) -> Response:
    webhooks = await services(request).webhooks.list_webhooks(context(request))
    return json_response({"webhooks": [webhook_view(w) for w in webhooks]})


async def show(request: Request) -> Response:
    return json_response(webhook_view(await services(request).webhooks.get(context(request), _id(request))))


async def update(request: Request) -> Response:
    body = await json_object(request)
    return json_response(webhook_view(await services(request).webhooks.update(context(request), _id(request), body)))


async def delete(request: Request) -> Response:
    await services(request).webhooks.delete(context(request), _id(request))
    return no_content()


async def deliveries(request: Request) -> Response:
    limit, marker = _limit(request), request.query_params.get("marker")
    webhook, found = await services(request).webhooks.deliveries(context(request), _id(request), limit, marker)
    body: dict[str, Any] = {"deliveries": [delivery_view(d) for d in found]}
    if found and len(found) == limit:
        body["next"] = f"/v2/webhooks/{webhook.id}/deliveries?limit={limit}&marker={found[-1].id}"
    return json_response(body)


def _id(request: Request) -> str:
    webhook_id: str = request.path_params["webhook_id"]
    return webhook_id
