"""Outbound: an agent's reply is stored pending and delivered by a task, with retries and a
sweep for replies whose task or worker was lost; providers' delivery updates move it forward."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_adapters.base import DeliveryError, DeliveryUpdate
from channels_adapters.registry import get_adapter
from channels_adapters.services._shared import MAX_ERROR_CHARS, _publish_message
from configuration.models import ChannelAccount
from customers.models import Identity
from tickets.models import Message, Ticket
from tickets.services import message_add_outbound

if TYPE_CHECKING:
    from django.contrib.auth.models import User

#: How far a provider's word may move a delivery state; it never goes backwards.
_DELIVERY_RANK: dict[str, int] = {
    Message.Delivery.PENDING: 0,
    Message.Delivery.SENT: 1,
    Message.Delivery.DELIVERED: 2,
    Message.Delivery.READ: 3,
}


def _enqueue_delivery(message_id: int) -> None:
    from channels_adapters.tasks import deliver_message

    transaction.on_commit(lambda: deliver_message.delay(message_id))


def _apply_update(account: ChannelAccount, update: DeliveryUpdate) -> int:
    """Move one of our outbound messages forward (sent → delivered → read) or to failed."""
    ours = Message.objects.filter(channel_account=account, direction=Message.Direction.OUTBOUND)
    if update.external_id:
        ours = ours.filter(external_id=update.external_id)
    elif update.recipient_id and update.at is not None:
        customer_ids = Identity.objects.filter(
            kind=account.kind, external_id=update.recipient_id
        ).values("customer_id")
        ours = ours.filter(ticket__customer_id__in=customer_ids, sent_at__lte=update.at)
    else:
        return 0
    if update.state == Message.Delivery.FAILED:
        changed = ours.filter(
            delivery__in=[Message.Delivery.PENDING, Message.Delivery.SENT]
        ).update(delivery=Message.Delivery.FAILED, delivery_error=update.error[:MAX_ERROR_CHARS])
    elif update.state in _DELIVERY_RANK:
        lower = [s for s, rank in _DELIVERY_RANK.items() if rank < _DELIVERY_RANK[update.state]]
        changed = ours.filter(delivery__in=lower).update(delivery=update.state)
    else:
        return 0
    if changed and update.external_id:
        for ticket_id, message_id in ours.values_list("ticket_id", "id"):
            _publish_message(ticket_id, message_id)
    return changed


@transaction.atomic
def reply_send(*, ticket: Ticket, author: User, body: str) -> Message:
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
        Message.objects.filter(pk=message_id).update(delivery_error=str(exc)[:MAX_ERROR_CHARS])
        raise
    with transaction.atomic():
        Message.objects.filter(pk=message_id, delivery=Message.Delivery.PENDING).update(
            delivery=Message.Delivery.SENT, external_id=external_id or None, delivery_error=""
        )
        _publish_message(message.ticket_id, message_id)
    return Message.objects.get(pk=message_id)


@transaction.atomic
def message_fail(*, message_id: int, reason: str) -> Message:
    """Give up on a pending message: the chat box shows it failed, with the reason."""
    message = Message.objects.select_for_update().get(pk=message_id)
    if message.delivery == Message.Delivery.PENDING:
        message.delivery = Message.Delivery.FAILED
        message.delivery_error = reason[:MAX_ERROR_CHARS]
        message.save(update_fields=["delivery", "delivery_error"])
        _publish_message(message.ticket_id, message_id)
    return message


@transaction.atomic
def message_retry(*, message_id: int) -> bool:
    """The chat box's retry button: a failed reply goes back to pending and is sent again."""
    changed = Message.objects.filter(
        pk=message_id,
        direction=Message.Direction.OUTBOUND,
        delivery=Message.Delivery.FAILED,
    ).update(delivery=Message.Delivery.PENDING, delivery_error="", delivery_attempts=0)
    if changed:
        ticket_id = Message.objects.values_list("ticket_id", flat=True).get(pk=message_id)
        _publish_message(ticket_id, message_id)
        _enqueue_delivery(message_id)
    return bool(changed)


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
