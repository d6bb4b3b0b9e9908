"""Delivery states of outbound messages: every write to them goes through here.

The channel layer sends a reply and reports what happened; these services claim a pending reply
for one send, record the outcome (sent, a transient error, failed), take a provider's later word
(delivered, read, failed) without ever moving a state backwards, and tell the chat box.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from configuration.models import ChannelAccount
from customers.models import Identity
from omnico.core import realtime
from tickets.models import Message

#: Longest delivery error kept (a provider's error text can be a whole HTML page).
MAX_DELIVERY_ERROR_CHARS = 2000

#: How far a provider's word may move a delivery state; it never goes backwards.
_DELIVERY_RANK = {
    Message.Delivery.PENDING: 0,
    Message.Delivery.SENT: 1,
    Message.Delivery.DELIVERED: 2,
    Message.Delivery.READ: 3,
}


def message_delivery_claim(*, message_id: int, attempt: int | None = None) -> Message | None:
    """Claim a pending outbound message for one send; None when there is nothing to send.

    A conditional ``UPDATE`` of ``delivery_attempts``: ``attempt`` is the sending task's retry
    number, so a redelivered copy of a task that already claimed it gets None and sends
    nothing. The message is returned with its channel account and ticket loaded.
    """
    message = (
        Message.objects.select_related("channel_account", "ticket")
        .filter(pk=message_id, direction=Message.Direction.OUTBOUND)
        .first()
    )
    if message is None or message.delivery != Message.Delivery.PENDING:
        return None
    expected = message.delivery_attempts if attempt is None else attempt
    claimed = Message.objects.filter(
        pk=message_id, delivery=Message.Delivery.PENDING, delivery_attempts=expected
    ).update(delivery_attempts=expected + 1)
    if claimed != 1:
        return None
    return message


def message_note_delivery_error(*, message_id: int, error: str) -> None:
    """A send failed for now and will be tried again: keep why, for the chat box."""
    Message.objects.filter(pk=message_id).update(delivery_error=error[:MAX_DELIVERY_ERROR_CHARS])


def message_mark_sent(*, message: Message, external_id: str | None) -> Message:
    """The channel took the message (``external_id``: its id there, for later updates)."""
    with transaction.atomic():
        Message.objects.filter(pk=message.pk, delivery=Message.Delivery.PENDING).update(
            delivery=Message.Delivery.SENT, external_id=external_id or None, delivery_error=""
        )
        _publish(message.ticket_id, message.pk)
    return Message.objects.get(pk=message.pk)


@transaction.atomic
def message_fail(*, message_id: int, reason: str) -> Message:
    """Give up on a pending message: the chat box shows it failed, with the reason."""
    message = Message.objects.select_for_update().get(pk=message_id)
    if message.delivery == Message.Delivery.PENDING:
        message.delivery = Message.Delivery.FAILED
        message.delivery_error = reason[:MAX_DELIVERY_ERROR_CHARS]
        message.save(update_fields=["delivery", "delivery_error"])
        _publish(message.ticket_id, message_id)
    return message


@transaction.atomic
def message_delivery_reset(*, message_id: int) -> bool:
    """A failed reply goes back to pending, to be sent again; True when it did."""
    changed = Message.objects.filter(
        pk=message_id,
        direction=Message.Direction.OUTBOUND,
        delivery=Message.Delivery.FAILED,
    ).update(delivery=Message.Delivery.PENDING, delivery_error="", delivery_attempts=0)
    if changed:
        ticket_id = Message.objects.values_list("ticket_id", flat=True).get(pk=message_id)
        _publish(ticket_id, message_id)
    return bool(changed)


def messages_delivery_update(
    *,
    channel_account: ChannelAccount,
    state: str,
    error: str = "",
    external_id: str = "",
    recipient_id: str = "",
    at: datetime | None = None,
) -> int:
    """A provider's word on our outbound messages: forward (sent → delivered → read) or to
    failed, never backwards; returns how many changed.

    ``external_id`` names one message; without it, ``recipient_id`` (the customer's id on the
    channel of ``kind``) and ``at`` name every message to them sent up to then (a read
    watermark, as Messenger reports it). An unknown ``state`` changes nothing.
    """
    ours = Message.objects.filter(
        channel_account=channel_account, direction=Message.Direction.OUTBOUND
    )
    if external_id:
        ours = ours.filter(external_id=external_id)
    elif recipient_id and at is not None:
        customer_ids = Identity.objects.filter(
            kind=channel_account.kind, external_id=recipient_id
        ).values("customer_id")
        ours = ours.filter(ticket__customer_id__in=customer_ids, sent_at__lte=at)
    else:
        return 0
    if state == Message.Delivery.FAILED:
        changed = ours.filter(
            delivery__in=[Message.Delivery.PENDING, Message.Delivery.SENT]
        ).update(delivery=Message.Delivery.FAILED, delivery_error=error[:MAX_DELIVERY_ERROR_CHARS])
    elif state in _DELIVERY_RANK:
        lower = [s for s, rank in _DELIVERY_RANK.items() if rank < _DELIVERY_RANK[state]]
        changed = ours.filter(delivery__in=lower).update(delivery=state)
    else:
        return 0
    if changed and external_id:
        for ticket_id, message_id in ours.values_list("ticket_id", "id"):
            _publish(ticket_id, message_id)
    return changed


def _publish(ticket_id: int, message_id: int) -> None:
    realtime.publish(
        realtime.ticket_group(ticket_id),
        "ticket.message",
        ticket_id=ticket_id,
        message_id=message_id,
    )
