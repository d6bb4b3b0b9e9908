"""Outgoing webhooks: a durable outbox written with the change, sent after commit, signed.

Emitting (``webhook_emit`` and the ``webhook_ticket_*`` helpers) writes one ``WebhookDelivery``
row per subscribed endpoint IN the caller's transaction: a change that rolls back sends nothing,
one that commits is never lost. After commit one task per row is queued; the periodic sweep
(``webhooks_sweep``, ``CELERY_BEAT_SCHEDULE`` "sweep-webhooks") sends what is due again: retries
after their backoff, rows whose task was lost, rows claimed by a worker that died. Asking which
endpoints want an event costs no query while none changed (``configuration.webhooks``).

Sending (``webhook_deliver``) claims the row with a conditional update first (state and attempt
count: the claim token), so two tasks never both send it; the answer is recorded only under the
same token. A worker that dies between the POST and recording its answer leaves the row claimed;
the sweep takes it back after ``_stale_seconds`` and it is sent again: delivery is at least
once, and a receiver drops repeats by ``X-Omnico-Delivery``. Payload, signature:
docs/webhooks.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from configuration.models import WebhookEndpoint, WebhookEvent
from configuration.webhooks import subscribed_endpoint_ids, webhook_address_refusal
from tickets.models import Message, Ticket, TicketStatus, WebhookDelivery

if TYPE_CHECKING:
    from customers.models import Customer

logger = logging.getLogger(__name__)

#: The payload's shape; a change that could break a receiver gets a new number.
PAYLOAD_VERSION = 1
#: The admin's "send test event" (sent whatever the endpoint subscribes to).
TEST_EVENT = "webhook.test"
#: How much of a receiver's answer is kept.
ANSWER_CHARS = 1000
#: A pending row's own task normally runs at once: the sweep leaves it this long first.
PENDING_GRACE_SECONDS = 10

State = WebhookDelivery.State


# --- emitting -------------------------------------------------------------------------------


def _envelope(event: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "event": event,
        "version": PAYLOAD_VERSION,
        "occurred_at": timezone.now().isoformat(),
        "data": data,
    }


def _outbox(endpoint_ids: list[int], event: str, data: dict[str, Any]) -> list[int]:
    payload = _envelope(event, data)
    rows = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint_id=endpoint_id,
            event_id=payload["id"],
            event=event,
            payload=payload,
        )
        for endpoint_id in endpoint_ids
    )
    ids = [row.pk for row in rows]
    transaction.on_commit(lambda: _queue(ids))
    return ids


def webhook_emit(*, event: str, data: dict[str, Any]) -> list[int]:
    """Write a delivery of ``event`` for every enabled endpoint subscribed to it, in the current
    transaction; queued after commit. Returns the rows' ids (none: no query at all)."""
    endpoint_ids = subscribed_endpoint_ids(event)
    if not endpoint_ids:
        return []
    return _outbox(endpoint_ids, event, data)


def _user(user_id: int | None) -> dict[str, Any] | None:
    if user_id is None:
        return None
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=user_id).only("username").first()
    return {"id": user_id, "username": user.get_username() if user else ""}


def _assignee(ticket: Ticket) -> dict[str, Any] | None:
    if ticket.assignee_id is not None and Ticket.assignee.is_cached(ticket):
        assert ticket.assignee is not None
        return {"id": ticket.assignee_id, "username": ticket.assignee.get_username()}
    return _user(ticket.assignee_id)


def ticket_data(ticket: Ticket, *, customer: Customer | None = None) -> dict[str, Any]:
    """The ticket as receivers see it (docs/webhooks.md)."""
    customer = customer if customer is not None else ticket.customer
    return {
        "ticket": {
            "id": ticket.pk,
            "title": ticket.title,
            "status": ticket.status,
            "priority": ticket.priority,
            "channel": ticket.source,
            "channel_account_id": ticket.channel_account_id,
            "department_id": ticket.department_id,
            "subject_id": ticket.subject_id,
            "group_type_id": ticket.group_type_id,
            "created_at": ticket.created_at.isoformat() if ticket.created_at else None,
            "assignee": _assignee(ticket),
        },
        "customer": {"id": customer.pk, "name": customer.name},
    }


def webhook_ticket_event(
    *, event: str, ticket: Ticket, customer: Customer | None = None, **extra: Any
) -> list[int]:
    """Emit a ticket event (``extra`` goes into ``data``); nothing, no query, when unwanted."""
    endpoint_ids = subscribed_endpoint_ids(event)
    if not endpoint_ids:
        return []
    return _outbox(endpoint_ids, event, {**ticket_data(ticket, customer=customer), **extra})


def _user_if(user_id: int | None) -> dict[str, Any] | None:
    return _user(user_id) if user_id is not None else None


def webhook_ticket_status(*, ticket: Ticket, old: str, actor_id: int | None = None) -> None:
    """``ticket.status_changed`` and, on the way to resolved, ``ticket.resolved``."""
    events = [WebhookEvent.TICKET_STATUS_CHANGED]
    if ticket.status == TicketStatus.RESOLVED:
        events.append(WebhookEvent.TICKET_RESOLVED)
    wanted = [(event, ids) for event in events if (ids := subscribed_endpoint_ids(event))]
    if not wanted:
        return
    change = {"old_status": old, "new_status": ticket.status, "actor": _user_if(actor_id)}
    data = {**ticket_data(ticket), **change}
    for event, endpoint_ids in wanted:
        _outbox(endpoint_ids, event, data)


def webhook_ticket_assigned(*, ticket: Ticket, old_assignee_id: int | None) -> None:
    """``ticket.assigned``: a new agent, or none (back to the pool: ``assignee`` null)."""
    webhook_ticket_event(
        event=WebhookEvent.TICKET_ASSIGNED,
        ticket=ticket,
        previous_assignee=_user(old_assignee_id),
    )


def webhook_tickets_assigned(*, ticket_ids: list[int]) -> None:
    """``ticket.assigned`` for tickets routing assigned in bulk (re-read: their new agent)."""
    if not ticket_ids or not subscribed_endpoint_ids(WebhookEvent.TICKET_ASSIGNED):
        return
    for ticket in Ticket.objects.filter(pk__in=ticket_ids).select_related("customer", "assignee"):
        webhook_ticket_event(
            event=WebhookEvent.TICKET_ASSIGNED, ticket=ticket, previous_assignee=None
        )


def webhook_message_received(*, ticket: Ticket, message: Message, customer: Customer) -> None:
    """``message.received``: a customer's message stored in ``ticket``."""
    webhook_ticket_event(
        event=WebhookEvent.MESSAGE_RECEIVED,
        ticket=ticket,
        customer=customer,
        message={
            "id": message.pk,
            "text": message.body,
            "sent_at": message.sent_at.isoformat() if message.sent_at else None,
        },
    )


# --- sending --------------------------------------------------------------------------------


def _queue(ids: list[int]) -> None:
    """Queue each row's task. A broker that refuses it changes nothing: the sweep sends it."""
    from tickets.tasks import deliver_webhook

    for delivery_id in ids:
        try:
            # Embedded, a background task runs on the scheduler's thread (omnico.celery), so
            # no HTTP runs in the request; without a scheduler it runs now (tests, shell).
            deliver_webhook.delay(delivery_id)
        except Exception as exc:
            logger.warning("webhook delivery %s not queued: %s", delivery_id, type(exc).__name__)


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``"{timestamp}.{body}"`` under the endpoint's secret."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def retry_delay(attempts: int) -> int:
    """Seconds before the try after ``attempts`` failed ones (the last delay repeats)."""
    delays = settings.OMNICO_WEBHOOK_RETRY_SECONDS
    return int(delays[min(attempts, len(delays)) - 1])


def _stale_seconds() -> int:
    """A claim older than this belongs to a dead worker (well past the POST's timeout)."""
    return max(60, 4 * settings.OMNICO_WEBHOOK_TIMEOUT_SECONDS)


def _claim(delivery_id: int, now: datetime) -> WebhookDelivery | None:
    """Take the row for one try (pending or failed, due, endpoint enabled); None: not ours."""
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id,
        state__in=[State.PENDING, State.FAILED],
        next_at__lte=now,
        endpoint__enabled=True,
    ).update(state=State.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if claimed != 1:
        return None
    return WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)


def _post(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> tuple[int | None, str]:
    """One POST: (status code or None, the answer or the error, shortened)."""
    refusal = webhook_address_refusal(endpoint.url)
    if refusal:
        return None, f"Not sent: {refusal}."
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Omnico-Webhooks/1",
        "X-Omnico-Event": delivery.event,
        "X-Omnico-Delivery": str(delivery.pk),
        "X-Omnico-Timestamp": str(timestamp),
        "X-Omnico-Signature": signature(secret=endpoint.secret, timestamp=timestamp, body=body),
    }
    try:
        response = httpx.post(
            endpoint.url,
            content=body,
            headers=headers,
            timeout=settings.OMNICO_WEBHOOK_TIMEOUT_SECONDS,
            follow_redirects=False,
        )
    except httpx.TimeoutException:
        return None, "Timed out."
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:ANSWER_CHARS]
    return response.status_code, response.text[:ANSWER_CHARS]


def webhook_deliver(*, delivery_id: int) -> str | None:
    """Claim the row and POST it once; record the answer. Returns the new state, or None when
    the row was not ours to send (sent, claimed, not due, endpoint disabled)."""
    delivery = _claim(delivery_id, timezone.now())
    if delivery is None:
        return None
    status, answer = _post(delivery.endpoint, delivery)
    now = timezone.now()
    update: dict[str, Any] = {
        "last_status": status,
        "last_answer": answer,
        "last_tried_at": now,
        "claimed_at": None,
    }
    if status is not None and 200 <= status < 300:
        update |= {"state": State.DELIVERED, "delivered_at": now}
    elif delivery.attempts >= settings.OMNICO_WEBHOOK_MAX_ATTEMPTS:
        update["state"] = State.GAVE_UP
    else:
        update |= {
            "state": State.FAILED,
            "next_at": now + timedelta(seconds=retry_delay(delivery.attempts)),
        }
    WebhookDelivery.objects.filter(
        pk=delivery.pk, state=State.SENDING, attempts=delivery.attempts
    ).update(**update)
    logger.info(
        "webhook delivery %s (%s) to endpoint %s: %s, try %s",
        delivery.pk,
        delivery.event,
        delivery.endpoint_id,
        status if status is not None else "no answer",
        delivery.attempts,
    )
    return str(update["state"])


def webhooks_sweep(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Take back rows claimed by a dead worker, then queue every due row of an enabled
    endpoint (retries, lost tasks). Returns the ids queued."""
    now = now or timezone.now()
    WebhookDelivery.objects.filter(
        state=State.SENDING, claimed_at__lt=now - timedelta(seconds=_stale_seconds())
    ).update(state=State.FAILED, next_at=now, claimed_at=None)
    due = Q(state=State.FAILED, next_at__lte=now) | Q(
        state=State.PENDING, next_at__lte=now - timedelta(seconds=PENDING_GRACE_SECONDS)
    )
    ids = list(
        WebhookDelivery.objects.filter(due, endpoint__enabled=True)
        .order_by("next_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    _queue(ids)
    return ids


# --- admin ----------------------------------------------------------------------------------


@transaction.atomic
def webhook_deliveries_resend(*, delivery_ids: list[int]) -> int:
    """Send these rows again from their first try (not one being sent now); how many."""
    ids = list(
        WebhookDelivery.objects.filter(pk__in=delivery_ids)
        .exclude(state=State.SENDING)
        .values_list("pk", flat=True)
    )
    WebhookDelivery.objects.filter(pk__in=ids).update(
        state=State.PENDING, attempts=0, next_at=timezone.now(), delivered_at=None
    )
    transaction.on_commit(lambda: _queue(ids))
    return len(ids)


@transaction.atomic
def webhook_send_test(*, endpoint: WebhookEndpoint) -> int:
    """A ``webhook.test`` event to this endpoint, whatever it subscribes to; the row's id."""
    return _outbox([endpoint.pk], TEST_EVENT, {"endpoint": {"id": endpoint.pk}})[0]
