"""Outbound: an agent's reply is stored pending and delivered by a task, with retries and a
sweep for replies whose task or worker was lost; providers' delivery updates move it forward."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_adapters.base import DeliveryError, DeliveryUpdate
from channels_adapters.registry import get_adapter
from configuration.models import ChannelAccount
from customers.models import Identity
from tickets.delivery import (
    message_delivery_claim,
    message_delivery_reset,
    message_fail,
    message_mark_sent,
    message_note_delivery_error,
    messages_delivery_update,
)
from tickets.models import Message, Ticket
from tickets.services import message_add_outbound

logger = logging.getLogger(__name__)


def _enqueue_delivery(message_id: int) -> None:
    transaction.on_commit(lambda: _queue_delivery(message_id))


def _queue_delivery(message_id: int) -> None:
    """Queue the delivery task after commit. A broker that refuses it must not turn the agent's
    stored reply into an error page: the reply stays pending, never claimed, and
    ``outbound_sweep`` queues it again."""
    from channels_adapters.tasks import deliver_message

    try:
        deliver_message.delay(message_id)
    except Exception as exc:
        logger.warning("could not queue delivery of message %s: %s", message_id, type(exc).__name__)


def _apply_update(account: ChannelAccount, update: DeliveryUpdate) -> int:
    """Move one of our outbound messages forward (sent → delivered → read) or to failed."""
    return messages_delivery_update(
        channel_account=account,
        state=update.state,
        error=update.error,
        external_id=update.external_id,
        recipient_id=update.recipient_id,
        at=update.at,
    )


@transaction.atomic
def reply_send(*, ticket: Ticket, author, body: str) -> Message:
    """An agent's reply: stored pending, delivered through the ticket's channel after commit."""
    message = message_add_outbound(ticket=ticket, author=author, body=body)
    _enqueue_delivery(message.pk)
    return message


def message_deliver(*, message_id: int, attempt: int | None = None) -> Message | None:
    """Send one pending outbound message through its channel.

    The message is claimed with a conditional UPDATE of ``delivery_attempts``: ``attempt`` is
    the task's retry number, so a redelivered copy of a task that already claimed it sends
    nothing. Returns None when there was nothing to send. A permanent ``DeliveryError`` marks
    the message failed; a transient one is re-raised for the task to retry.
    """
    message = message_delivery_claim(message_id=message_id, attempt=attempt)
    if message is None:
        return None
    account = message.channel_account
    try:
        recipient = (
            Identity.objects.filter(customer_id=message.ticket.customer_id, kind=account.kind)
            .order_by("-created_at", "-id")
            .first()
        )
        if recipient is None:
            raise DeliveryError(_("The customer has no address on this channel."), permanent=True)
        if not account.enabled:
            raise DeliveryError(_("This channel account is disabled."), permanent=True)
        external_id = get_adapter(account.kind).send(account, message, recipient)
    except DeliveryError as exc:
        if exc.permanent:
            return message_fail(message_id=message_id, reason=str(exc))
        message_note_delivery_error(message_id=message_id, error=str(exc))
        raise
    except Exception as exc:
        # Not a provider's answer (a bug, a lost connection): no task retries it, and the sweep
        # would show it failed only after OUTBOUND_GIVE_UP_AFTER. The provider may have taken
        # it, so it is not sent again by itself: the chat box shows it failed, with retry.
        logger.warning("sending message %s failed: %s", message_id, type(exc).__name__)
        return message_fail(
            message_id=message_id,
            reason=_("Sending was interrupted. Press retry to send this reply again."),
        )
    return message_mark_sent(message=message, external_id=external_id)


@transaction.atomic
def message_retry(*, message_id: int) -> bool:
    """The chat box's retry button: a failed reply goes back to pending and is sent again."""
    if not message_delivery_reset(message_id=message_id):
        return False
    _enqueue_delivery(message_id)
    return True


#: A reply still pending and never claimed after this long lost its task (dead broker).
OUTBOUND_REQUEUE_AFTER = timedelta(minutes=2)
#: A claimed reply still pending after this long lost its worker mid-send (every retry and its
#: backoff is over by then). It is failed, not sent again: the provider may have taken it.
OUTBOUND_GIVE_UP_AFTER = timedelta(hours=1)


def outbound_sweep(
    *,
    requeue_after: timedelta = OUTBOUND_REQUEUE_AFTER,
    give_up_after: timedelta = OUTBOUND_GIVE_UP_AFTER,
    limit: int = 500,
) -> tuple[int, int]:
    """Settle replies stuck in ``pending``; returns ``(queued again, failed)``.

    Never claimed (``delivery_attempts == 0``): its task was lost before it ran, so it is queued
    again; the claim token keeps a late original from sending it twice. Claimed and still
    pending long after every retry: the worker died mid-send, and the chat box shows it failed
    with a retry button, since the provider may already have delivered it.
    """
    now = timezone.now()
    pending = Message.objects.filter(
        direction=Message.Direction.OUTBOUND, delivery=Message.Delivery.PENDING
    ).order_by("created_at")
    lost = list(
        pending.filter(delivery_attempts=0, created_at__lt=now - requeue_after).values_list(
            "pk", flat=True
        )[:limit]
    )
    for message_id in lost:
        _enqueue_delivery_now(message_id)
    stuck = list(
        pending.filter(delivery_attempts__gt=0, created_at__lt=now - give_up_after).values_list(
            "pk", flat=True
        )[:limit]
    )
    for message_id in stuck:
        message_fail(
            message_id=message_id,
            reason=_("Sending was interrupted. Press retry to send this reply again."),
        )
    return len(lost), len(stuck)


def _enqueue_delivery_now(message_id: int) -> None:
    from channels_adapters.tasks import deliver_message

    deliver_message.delay(message_id)
