"""Delivery states of outbound messages: every write to them goes through here.

The channel layer sends a reply and reports what happened; these services claim a pending reply
for one send, record the outcome (sent, a transient error, failed), take a provider's later word
(delivered, read, failed) without ever moving a state backwards, and tell the chat box.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from configuration.models import ChannelAccount
from customers.models import Identity
from omnico.core import realtime
from tickets.models import Message

#: How long one send may hold its claim on a reply: longer than the sending task can run (its
#: hard time limit, ``channels_adapters.tasks.DELIVERY_TIME_LIMIT``), so a live worker never
#: loses its claim mid-send; after it, the worker is taken for dead and the sweep sends again.
DELIVERY_CLAIM = timedelta(seconds=60)

#: Longest delivery error kept (a provider's error text can be a whole HTML page).
MAX_DELIVERY_ERROR_CHARS = 2000

#: How far a provider's word may move a delivery state; it never goes backwards.
_DELIVERY_RANK: dict[str, int] = {
    Message.Delivery.PENDING: 0,
    Message.Delivery.SENT: 1,
    Message.Delivery.DELIVERED: 2,
    Message.Delivery.READ: 3,
}


def message_delivery_claim(
    *, message_id: int, attempt: int | None = None, claim_for: timedelta = DELIVERY_CLAIM
) -> Message | None:
    """Claim a pending outbound message for one send; None when there is nothing to send.

    One conditional ``UPDATE``: the message must be pending, ``delivery_attempts`` must still
    equal ``attempt`` (the claim token the sending task carries: the attempts made when it was
    queued) and no live claim may hold it. It bumps the attempts and holds the claim for
    ``claim_for``, which is also when the sweep takes the worker for dead
    (``delivery_next_at``). So of two copies of one task (a redelivery, the sweep's re-queue
    beside a late original) only one sends. ``attempt=None`` claims whatever the count is.
    The message is returned with its channel account and ticket loaded.
    """
    message = (
        Message.objects.select_related("channel_account", "ticket")
        .filter(pk=message_id, direction=Message.Direction.OUTBOUND)
        .first()
    )
    if message is None or message.delivery != Message.Delivery.PENDING:
        return None
    expected = message.delivery_attempts if attempt is None else attempt
    now = timezone.now()
    until = now + claim_for
    claimed = (
        Message.objects.filter(
            pk=message_id, delivery=Message.Delivery.PENDING, delivery_attempts=expected
        )
        .filter(Q(delivery_claimed_until__isnull=True) | Q(delivery_claimed_until__lt=now))
        .update(
            delivery_attempts=expected + 1,
            delivery_claimed_until=until,
            delivery_next_at=until,
        )
    )
    if claimed != 1:
        return None
    message.delivery_attempts = expected + 1
    message.delivery_claimed_until = message.delivery_next_at = until
    return message


def message_delivery_unclaim(*, message: Message) -> bool:
    """Give back a claim under which no provider was called (the send failed before it, say on
    a dropped database connection): the attempt is not counted and the reply is due at once, so
    a retry of the same task, or the sweep, sends it. Only the claim ``message`` holds is given
    back; True when it was."""
    return bool(
        Message.objects.filter(
            pk=message.pk,
            delivery=Message.Delivery.PENDING,
            delivery_attempts=message.delivery_attempts,
            delivery_claimed_until=message.delivery_claimed_until,
        ).update(
            delivery_attempts=F("delivery_attempts") - 1,
            delivery_claimed_until=None,
            delivery_next_at=timezone.now(),
        )
    )


def message_note_delivery_error(*, message_id: int, error: str, retry_at: datetime) -> None:
    """A send failed for now and will be tried again at ``retry_at``: keep why, for the chat
    box, and release the claim; the sweep queues the retry again if it is not done by then."""
    Message.objects.filter(pk=message_id, delivery=Message.Delivery.PENDING).update(
        delivery_error=error[:MAX_DELIVERY_ERROR_CHARS],
        delivery_claimed_until=None,
        delivery_next_at=retry_at,
    )


def message_delivery_requeued(*, message_id: int, attempts: int, next_at: datetime) -> bool:
    """The sweep queued a task for a reply again: nothing is due from it before ``next_at``.

    Conditional on ``attempts`` (what the sweep saw), so a task that claimed it meanwhile is not
    undone; True when it still was as seen."""
    return bool(
        Message.objects.filter(
            pk=message_id, delivery=Message.Delivery.PENDING, delivery_attempts=attempts
        ).update(delivery_claimed_until=None, delivery_next_at=next_at)
    )


def messages_delivery_bring_forward(
    *, channel_account_id: int, limit: int = 500
) -> list[tuple[int, int]]:
    """The account's replies waiting out a retry's backoff after a transient failure are due
    now (the provider answered again); returns ``(id, attempts)`` of each, the claim token of
    the task the caller queues. One claimed by a running task is left to it; a copy of its own
    retry task that comes later finds the attempts moved on and sends nothing."""
    now = timezone.now()
    waiting = (
        Message.objects.filter(
            channel_account_id=channel_account_id,
            direction=Message.Direction.OUTBOUND,
            delivery=Message.Delivery.PENDING,
            delivery_attempts__gt=0,
            delivery_next_at__gt=now,
        )
        .exclude(delivery_claimed_until__gt=now)
        .order_by("delivery_next_at")
    )
    due = list(waiting.values_list("pk", "delivery_attempts")[:limit])
    if due:
        Message.objects.filter(
            pk__in=[pk for pk, _attempts in due], delivery=Message.Delivery.PENDING
        ).update(delivery_next_at=now)
    return due


def message_mark_sent(*, message: Message, external_id: str | None) -> Message:
    """The channel took the message (``external_id``: its id there, for later updates)."""
    with transaction.atomic():
        Message.objects.filter(pk=message.pk, delivery=Message.Delivery.PENDING).update(
            delivery=Message.Delivery.SENT,
            external_id=external_id or None,
            delivery_error="",
            delivery_claimed_until=None,
            delivery_next_at=None,
        )
        _publish(message.ticket_id, message.pk)
    return Message.objects.get(pk=message.pk)


def message_sent_first_try(*, message: Message, external_id: str) -> bool:
    """A reply the process that stored it has just handed to its channel (the web chat's push):
    pending with no try and no claim yet, it becomes sent in one conditional ``UPDATE``, and the
    chat box is told. False when something else already moved it (the visitor's socket
    acknowledged it first; a task of the sweep claimed it): it is left as that made it.
    ``message`` is updated in memory to what was stored."""
    changed = Message.objects.filter(
        pk=message.pk,
        delivery=Message.Delivery.PENDING,
        delivery_attempts=0,
        delivery_claimed_until__isnull=True,
    ).update(delivery=Message.Delivery.SENT, external_id=external_id, delivery_attempts=1)
    if changed:
        message.delivery = Message.Delivery.SENT
        message.external_id = external_id
        message.delivery_attempts = 1
        _publish(message.ticket_id, message.pk)
    return bool(changed)


@transaction.atomic
def message_fail(*, message_id: int, reason: str) -> Message:
    """Give up on a pending message: the chat box shows it failed, with the reason."""
    message = Message.objects.select_for_update().get(pk=message_id)
    if message.delivery == Message.Delivery.PENDING:
        message.delivery = Message.Delivery.FAILED
        message.delivery_error = reason[:MAX_DELIVERY_ERROR_CHARS]
        message.delivery_claimed_until = message.delivery_next_at = None
        message.save(
            update_fields=[
                "delivery",
                "delivery_error",
                "delivery_claimed_until",
                "delivery_next_at",
            ]
        )
        _publish(message.ticket_id, message_id)
    return message


@transaction.atomic
def message_delivery_reset(*, message_id: int) -> bool:
    """A failed reply goes back to pending, to be sent again; True when it did."""
    changed = Message.objects.filter(
        pk=message_id,
        direction=Message.Direction.OUTBOUND,
        delivery=Message.Delivery.FAILED,
    ).update(
        delivery=Message.Delivery.PENDING,
        delivery_error="",
        delivery_attempts=0,
        delivery_claimed_until=None,
        delivery_next_at=timezone.now(),
    )
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


def messages_delivery_advance(
    *, channel_account: ChannelAccount, state: str, message_ids: list[int]
) -> int:
    """Move our outbound ``message_ids`` forward to ``state`` (sent → delivered → read, never
    backwards) in one statement, whatever their number, and tell their chat boxes; returns how
    many changed. For a screen that showed many replies at once (the support page's history)."""
    if state not in _DELIVERY_RANK or not message_ids:
        return 0
    lower = [s for s, rank in _DELIVERY_RANK.items() if rank < _DELIVERY_RANK[state]]
    ours = Message.objects.filter(
        channel_account=channel_account,
        direction=Message.Direction.OUTBOUND,
        pk__in=message_ids,
        delivery__in=lower,
    )
    moved = list(ours.values_list("ticket_id", "id"))
    if not moved:
        return 0
    changed = Message.objects.filter(pk__in=[pk for _, pk in moved], delivery__in=lower).update(
        delivery=state
    )
    for ticket_id, message_id in moved:
        _publish(ticket_id, message_id)
    return changed
